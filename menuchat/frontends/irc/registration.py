"""Registration and the connection's own commands: CAP, SASL PLAIN, PASS,
NICK, USER, the welcome burst, PING, PONG and QUIT.

A registered menuchat name is the account's own: it is admitted after
SASL PLAIN or with PASS, its password. Without either it is refused with
ERR_NICKNAMEINUSE (433), the numeric every client already handles by
choosing another nick; no numeric says "authenticate for this nick" in
the RFCs or the Modern documentation (ERR_NICKLOCKED, 902, is about a
nick taken by another account after SASL), so the text says what to do.
"""

from __future__ import annotations

import base64
import binascii

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from menuchat.core import errors
from menuchat.core.hub import User
from menuchat.core.names import token_problem
from menuchat.frontends.failures import log_if_fails
from menuchat.frontends.irc import numerics as n
from menuchat.frontends.irc.base import SessionBase, State
from menuchat.frontends.irc.wire import mask, nick_problem
from menuchat.store import Account

__all__ = ["CAPABILITIES", "Registration"]

#: What CAP LS offers: C{sasl} (PLAIN), C{echo-message}, and
#: C{multi-prefix}, which asks for nothing more here: a member has one
#: prefix at most (C{@}), and NAMES and WHO always show it.
CAPABILITIES = {"echo-message": "", "multi-prefix": "", "sasl": "PLAIN"}

# SASL messages come in chunks of this many base64 characters.
_SASL_CHUNK = 400


class Registration(SessionBase):
    """The commands of registration and of the connection itself."""

    # CAP and SASL

    def irc_CAP(self, params: list[str]) -> Deferred[None] | None:
        if not params:
            self.numeric(n.ERR_NEEDMOREPARAMS, "CAP", n.NEED_MORE_PARAMS)
            return None
        sub = params[0].upper()
        registering = self.state is State.REGISTERING
        if sub == "LS":
            self._negotiating = registering
            modern = len(params) > 1 and params[1].isdigit() and int(params[1]) >= 302
            offered = " ".join(
                f"{cap}={value}" if modern and value else cap
                for cap, value in CAPABILITIES.items()
            )
            self.send(self.gateway.server, "CAP", self.me, "LS", offered)
        elif sub == "LIST":
            self.send(
                self.gateway.server, "CAP", self.me, "LIST", " ".join(sorted(self.caps))
            )
        elif sub == "REQ":
            self._negotiating = registering
            asked = params[1] if len(params) > 1 else ""
            names = asked.split()
            if names and all(name.removeprefix("-") in CAPABILITIES for name in names):
                for name in names:
                    if name.startswith("-"):
                        self.caps.discard(name[1:])
                    else:
                        self.caps.add(name)
                self.send(self.gateway.server, "CAP", self.me, "ACK", asked)
            else:
                self.send(self.gateway.server, "CAP", self.me, "NAK", asked)
        elif sub == "END":
            self._negotiating = False
            return self._try_register()
        else:
            self.numeric("410", sub, "Invalid CAP command")
        return None

    def irc_AUTHENTICATE(self, params: list[str]) -> Deferred[None] | None:
        if not params:
            self.numeric(n.ERR_NEEDMOREPARAMS, "AUTHENTICATE", n.NEED_MORE_PARAMS)
            return None
        if self._account is not None:
            self.numeric(n.ERR_SASLALREADY, n.SASL_ALREADY)
            return None
        if self.state is not State.REGISTERING:
            # SASL is part of registration here: no logging in afterwards.
            self.numeric(n.ERR_ALREADYREGISTERED, n.ALREADY_REGISTERED)
            return None
        argument = params[0]
        if argument == "*":
            self._sasl = None
            self.numeric(n.ERR_SASLABORTED, n.SASL_ABORTED)
            return None
        if self._sasl is None:
            if argument.upper() != "PLAIN":
                self.numeric(n.RPL_SASLMECHS, "PLAIN", n.SASL_MECHS)
                self.numeric(n.ERR_SASLFAIL, n.SASL_FAIL)
                return None
            self._sasl = []
            self.send(None, "AUTHENTICATE", "+")
            return None
        if len(argument) > _SASL_CHUNK:
            self._sasl = None
            self.numeric(n.ERR_SASLTOOLONG, n.SASL_TOO_LONG)
            return None
        if argument != "+":
            self._sasl.append(argument)
            if len(argument) == _SASL_CHUNK:
                return None  # more to come
        chunks, self._sasl = self._sasl, None
        return self._sasl_plain("".join(chunks))

    def _password_refused(self) -> bool:
        """Whether passwords are refused on this connection (plain, from
        another machine, on a server that takes them only over TLS); the
        client is told why in a NOTICE."""
        if not self.gateway.passwords_need_tls or self._output.secure:
            return False
        self.notice(n.PASSWORDS_NEED_TLS)
        return True

    def _sasl_plain(self, encoded: str) -> Deferred[None] | None:
        try:
            fields = base64.b64decode(encoded, validate=True).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError):
            fields = []
        if len(fields) != 3 or (fields[0] and fields[0] != fields[1]):
            self.numeric(n.ERR_SASLFAIL, n.SASL_FAIL)
            return None
        _, name, password = fields
        if self._password_refused():
            self.numeric(n.ERR_SASLFAIL, n.SASL_FAIL)
            return None
        attempt = self._accounts.authenticate(name, password, self._output.address)

        def passed(account: Account) -> None:
            self._account = account
            source = mask(account.name, account.user_id, self.gateway.server)
            self.numeric(
                n.RPL_LOGGEDIN,
                source,
                account.name,
                n.LOGGED_IN.format(account=account.name),
            )
            self.numeric(n.RPL_SASLSUCCESS, n.SASL_SUCCESS)

        def failed(reason: Failure) -> None:
            reason.trap(UnauthorizedLogin)
            self.numeric(n.ERR_SASLFAIL, n.SASL_FAIL)

        return self._answer(
            attempt.addCallbacks(passed, failed),
            lambda _: None,
            _reraise,
            "AUTHENTICATE",
        )

    # PASS, NICK, USER

    def irc_PASS(self, params: list[str]) -> None:
        if self.state is not State.REGISTERING:
            self.numeric(n.ERR_ALREADYREGISTERED, n.ALREADY_REGISTERED)
        elif not params or not params[0]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "PASS", n.NEED_MORE_PARAMS)
        else:
            self._password = params[0]

    def irc_NICK(self, params: list[str]) -> Deferred[None] | None:
        if not params or not params[0]:
            self.numeric(n.ERR_NONICKNAMEGIVEN, n.NO_NICK_GIVEN)
            return None
        nick = params[0]
        if self.state is State.REGISTERED:
            if nick == self._user.name:
                return None
            holder = self._hub.online(nick) if token_problem(nick) is None else None
            if holder is not None and holder is not self.user:
                # Taken is the first thing to say, as every server does.
                self.numeric(n.ERR_NICKNAMEINUSE, nick, n.NICK_IN_USE)
            else:
                self.numeric(n.ERR_NONICKCHANGE, nick, n.NO_NICK_CHANGE)
            return None
        if token_problem(nick) is not None or nick_problem(nick):
            self.numeric(n.ERR_ERRONEUSNICKNAME, nick, n.ERRONEOUS_NICK)
            return None
        if self._hub.online(nick) is not None:
            self.numeric(n.ERR_NICKNAMEINUSE, nick, n.NICK_IN_USE)
            return None
        self.nick = nick
        return self._try_register()

    def irc_USER(self, params: list[str]) -> Deferred[None] | None:
        if self.state is not State.REGISTERING:
            self.numeric(n.ERR_ALREADYREGISTERED, n.ALREADY_REGISTERED)
            return None
        if len(params) < 4 or not params[0] or not params[3]:
            self.numeric(n.ERR_NEEDMOREPARAMS, "USER", n.NEED_MORE_PARAMS)
            return None
        self.ident = params[0][:10]
        self.realname = params[3][:100]
        return self._try_register()

    def _try_register(self) -> Deferred[None] | None:
        """Log in once NICK and USER are in, CAP is over and SASL is not on."""
        if (
            self.state is not State.REGISTERING
            or not (self.nick and self.ident)
            or self._negotiating
            or self._sasl is not None
        ):
            return None
        nick = self.nick
        if self._account is not None:
            account = self._account
            attempt = self._hub.login(account.name, self, account)  # type: ignore[arg-type]
        else:
            attempt = self._hub.login(nick, self)  # type: ignore[arg-type]
            if self._password is not None:
                attempt.addErrback(self._with_password, self._password)

        def refused(error: errors.ChatError) -> None:
            self.nick = ""
            if isinstance(error, errors.WrongPassword):
                self.numeric(n.ERR_PASSWDMISMATCH, n.PASSWORD_MISMATCH)
                self.close_with(n.CLOSED_PASSWORD.format(nick=nick))
            elif isinstance(error, errors.NameTaken) and self._account is not None:
                self.numeric(n.ERR_NICKNAMEINUSE, nick, n.ACCOUNT_CONNECTED)
                self.close_with(n.CLOSED_ACCOUNT.format(nick=nick))
            elif isinstance(error, errors.NameTaken):
                self.numeric(n.ERR_NICKNAMEINUSE, nick, n.NICK_IN_USE)
            elif isinstance(error, errors.PasswordRequired):
                self.numeric(n.ERR_NICKNAMEINUSE, nick, n.NICK_REGISTERED)
            elif isinstance(error, errors.InvalidName):
                self.numeric(n.ERR_ERRONEUSNICKNAME, nick, n.ERRONEOUS_NICK)
            else:
                raise error

        return self._answer(attempt, self._admitted, refused, "NICK")

    def _with_password(self, reason: Failure, password: str) -> Deferred[User]:
        """A registered nick with a PASS: the password must unlock it."""
        reason.trap(errors.PasswordRequired)
        name = reason.value.name  # type: ignore[union-attr]
        if self._password_refused():
            raise errors.WrongPassword(name)
        checked = self._accounts.authenticate(name, password, self._output.address)

        def unlocked(account: Account) -> Deferred[User]:
            return self._hub.login(account.name, self, account)  # type: ignore[arg-type]

        def wrong(failure: Failure) -> None:
            failure.trap(UnauthorizedLogin)
            raise errors.WrongPassword(name)

        return checked.addCallbacks(unlocked, wrong)  # type: ignore[arg-type]

    def _admitted(self, user: User) -> Deferred[None] | None:
        if self.state is State.CLOSED:  # the connection went meanwhile
            log_if_fails(self.log, "Logout failed", self._hub.logout(user))
            return None
        self.user = user
        self.state = State.REGISTERED
        self._output.logged_in(user.name, user.id)
        self._welcome()
        self._start_pinging()
        if user.registered:
            return self._drain()
        return None

    # The welcome burst

    def _welcome(self) -> None:
        gateway = self.gateway
        user = self._user
        self.numeric(n.RPL_WELCOME, n.WELCOME.format(mask=self.source(user)))
        self.numeric(
            n.RPL_YOURHOST,
            n.YOUR_HOST.format(server=gateway.server, version=gateway.version),
        )
        self.numeric(n.RPL_CREATED, n.CREATED.format(date=gateway.created))
        self.numeric(n.RPL_MYINFO, gateway.server, gateway.version, "i", "bnqt", "bqo")
        self.numeric(n.RPL_ISUPPORT, *ISUPPORT, n.ISUPPORT_TAIL)
        self.irc_LUSERS([])
        self.irc_MOTD([])

    def irc_LUSERS(self, params: list[str]) -> None:
        users = self._hub.users()
        operators = sum(1 for u in users if self._hub.is_operator(u))
        self.numeric(n.RPL_LUSERCLIENT, n.LUSER_CLIENT.format(users=len(users)))
        self.numeric(n.RPL_LUSEROP, str(operators), n.LUSER_OP)
        self.numeric(n.RPL_LUSERCHANNELS, str(len(self._hub.rooms())), n.LUSER_CHANNELS)
        self.numeric(n.RPL_LUSERME, n.LUSER_ME.format(users=len(users)))
        # The short forms, without counts: no peak is kept to say "max".
        local = sum(1 for u in users if not u.node)
        self.numeric(n.RPL_LOCALUSERS, n.LOCAL_USERS.format(users=local))
        self.numeric(n.RPL_GLOBALUSERS, n.GLOBAL_USERS.format(users=len(users)))

    def irc_MOTD(self, params: list[str]) -> None:
        self.numeric(n.RPL_MOTDSTART, n.MOTD_START.format(server=self.gateway.server))
        for text in n.MOTD:
            self.numeric(n.RPL_MOTD, text)
        self.numeric(n.RPL_ENDOFMOTD, n.MOTD_END)

    # The connection itself

    def irc_PING(self, params: list[str]) -> None:
        if not params:
            self.numeric(n.ERR_NOORIGIN, n.NO_ORIGIN)
        else:
            self.send(self.gateway.server, "PONG", self.gateway.server, params[0])

    def irc_PONG(self, params: list[str]) -> None:
        """The answer to our PING: hearing it was enough."""

    def irc_QUIT(self, params: list[str]) -> None:
        said = params[0] if params and params[0] else n.QUIT_DEFAULT
        message = f"Quit: {said}"
        self.close_with(n.CLOSED_QUIT.format(nick=self.me, message=said), message)


#: The ISUPPORT tokens of RPL_ISUPPORT (005). CASEMAPPING: names are the
#: same whatever their case or Unicode spelling, as PRECIS (RFC 7613) has
#: it, and look-alikes from other scripts too; one channel at a time.
ISUPPORT = (
    "CASEMAPPING=rfc7613",
    "CHANTYPES=#",
    "CHANLIMIT=#:1",
    "CHANNELLEN=33",
    "NICKLEN=32",
    "PREFIX=(o)@",
    "CHANMODES=bq,,,nt",
    "TARGMAX=PRIVMSG:1,NOTICE:1,KICK:1,WHOIS:1",
    "NETWORK=menuchat",
    "UTF8ONLY",
    "SAFELIST",
)


def _reraise(error: errors.ChatError) -> None:
    raise error
