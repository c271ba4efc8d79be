"""The account part of the dialogue: passwords, registering, option 8.

A mixin of L{menuchat.frontends.menu.dialogue.Session}, kept apart because
it is a dialogue of its own: a registered name's password at log-in, and
the guest's registration or the registered user's password change and
deletion behind option 8. Passwords are never echoed by telnet: input is
hidden while one is typed. A server told to take passwords only over TLS
asks for none on a connection that is neither TLS nor from this machine.
"""

from __future__ import annotations

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.accounts import MIN_PASSWORD_LENGTH
from menuchat.core.hub import User
from menuchat.frontends.menu import texts
from menuchat.frontends.menu.base import SessionBase, State, reraise
from menuchat.store import Account

__all__ = ["AccountDialogue"]


class AccountDialogue(SessionBase):
    """Password, registration and account states of a session."""

    __slots__ = ()

    def _passwords_refused(self) -> bool:
        """Whether no password may be typed on this connection."""
        return self._passwords_need_tls and not self._output.secure

    # At log-in

    def _ask_login_password(self, name: str) -> None:
        """C{name} is registered: ask its password, if it may be typed here."""
        if self._passwords_refused():
            self.log.info(
                "{address}: no password asked for {name} without TLS",
                address=self._output.address,
                name=name,
            )
            self._error(texts.PASSWORD_NEEDS_TLS.format(name=name))
            return
        self._pending_name = name
        self._output.hide_input(True)
        self._ask(State.PASSWORD)

    def _on_password(self, line: str) -> Deferred[None] | None:
        self._output.hide_input(False)
        self._output.write(texts.CRLF)  # the line end telnet did not echo
        name, self._pending_name = self._pending_name, ""
        attempt = self._accounts.authenticate(name, line, self._output.address)

        def unlocked(account: Account) -> Deferred[User]:
            return self._hub.login(account.name, self, account)  # type: ignore[arg-type]

        def unauthorized(reason: Failure) -> Deferred[User]:
            reason.trap(UnauthorizedLogin)
            raise errors.WrongPassword(name)

        def refused(error: errors.ChatError) -> None:
            self.state = State.NAME
            if isinstance(error, errors.NameTaken):
                self._error(texts.NAME_TAKEN.format(name=name))
            elif isinstance(error, errors.WrongPassword):
                self._error(texts.WRONG_PASSWORD.format(name=name))
            else:
                raise error

        trying: Deferred[User] = attempt.addCallbacks(unlocked, unauthorized)
        return self._answer(trying, self._admitted, refused)

    # Option 8

    def _open_account(self) -> None:
        user = self._user
        if not user.registered and self._passwords_refused():
            self._fail(texts.ACCOUNT_NEEDS_TLS)
        elif user.registered:
            self._output.write(texts.ACCOUNT_MENU.format(name=user.name, id=user.id))
            self._ask(State.ACCOUNT)
        else:
            self._output.write(
                texts.ACCOUNT_GUEST.format(name=user.name, length=MIN_PASSWORD_LENGTH)
            )
            self._ask_password(State.NEW_PASSWORD)

    def _ask_password(self, state: State) -> None:
        self._output.hide_input(True)
        self._ask(state)

    def _on_account_choice(self, line: str) -> None:
        choice = line.strip()
        if choice == "1" and self._passwords_refused():
            self._fail(texts.ACCOUNT_NEEDS_TLS)
        elif choice == "1":
            self._ask_password(State.NEW_PASSWORD)
        elif choice == "2":
            self._ask(State.CONFIRM_DELETE)
        elif choice == "3" or not choice:
            self.state = State.MENU
            self._output.write(texts.BACK_TO_MENU + texts.OPTION_PROMPT)
        else:
            self._fail(texts.BAD_ACCOUNT_CHOICE.format(choice=choice[:40]))

    def _on_new_password(self, line: str) -> None:
        self._output.write(texts.CRLF)
        if not line:
            self._output.hide_input(False)
            self.state = State.MENU
            self._output.write(texts.BACK_TO_MENU + texts.OPTION_PROMPT)
        elif len(line) < MIN_PASSWORD_LENGTH:
            self._output.hide_input(False)
            self._fail(texts.PASSWORD_TOO_SHORT.format(length=MIN_PASSWORD_LENGTH))
        else:
            self._pending_text = line
            self._ask(State.PASSWORD_AGAIN)

    def _on_password_again(self, line: str) -> Deferred[None] | None:
        self._output.hide_input(False)
        self._output.write(texts.CRLF)
        password, self._pending_text = self._pending_text, ""
        if line != password:
            self._fail(texts.PASSWORDS_DIFFER)
            return None
        user = self._user
        if user.registered:

            def changed(_: None) -> None:
                self.state = State.MENU
                self._output.write(texts.PASSWORD_CHANGED + texts.OPTION_PROMPT)

            return self._answer(
                self._accounts.change_password(user.id, password), changed, reraise
            )

        def registered(account: Account) -> None:
            self._hub.set_registered(user, True)
            self.state = State.MENU
            self._output.write(
                texts.REGISTERED.format(name=user.name) + texts.OPTION_PROMPT
            )

        def refused(error: errors.ChatError) -> None:
            if isinstance(error, errors.NameTaken):
                self._fail(texts.NAME_REGISTERED.format(name=user.name))
            else:
                raise error

        return self._answer(
            self._accounts.register(user.id, user.name, password), registered, refused
        )

    def _on_confirm_delete(self, line: str) -> Deferred[None] | None:
        if line.strip() != "DELETE":
            self._fail(texts.NOT_DELETED)
            return None
        user = self._user

        def deleted(_: None) -> None:
            self._hub.set_registered(user, False)
            self.state = State.MENU
            self._output.write(
                texts.ACCOUNT_DELETED.format(name=user.name) + texts.OPTION_PROMPT
            )

        return self._answer(self._accounts.delete(user.id), deleted, reraise)
