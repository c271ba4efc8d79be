"""The hub's refusals (core/errors.py) carry what they were about."""

from twisted.trial.unittest import SynchronousTestCase

from menuchat.core.errors import InvalidName, PasswordRequired, TokenProblem


class ErrorTests(SynchronousTestCase):
    def test_an_invalid_token_names_it_and_its_problem(self) -> None:
        error = InvalidName("a b", TokenProblem.SPACE)
        self.assertEqual(error.args, ("a b", TokenProblem.SPACE))
        self.assertIs(error.problem, TokenProblem.SPACE)

    def test_a_password_required_names_the_account(self) -> None:
        error = PasswordRequired("Nina")
        self.assertEqual((error.args, error.name), (("Nina",), "Nina"))
