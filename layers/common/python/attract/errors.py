"""Domain errors shared by every area. The HTTP mapping lives in attract.http, nowhere else."""


class AttractError(Exception):
    """Base class of every error the domain raises on purpose."""


class NotFoundError(AttractError):
    """The addressed item does not exist."""


class AlreadyExistsError(AttractError):
    """A conditional create found the key taken."""
