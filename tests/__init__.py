"""The menuchat tests."""
