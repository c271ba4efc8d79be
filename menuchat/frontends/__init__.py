"""The front-ends: each turns one wire format into hub calls and events back."""
