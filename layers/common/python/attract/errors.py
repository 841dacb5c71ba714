"""Domain errors shared by every area. The HTTP mapping lives in attract.http, nowhere else."""


class AttractError(Exception):
    """Base class of every error the domain raises on purpose."""


class NotFoundError(AttractError):
    """The addressed item does not exist."""


class AlreadyExistsError(AttractError):
    """A conditional create found the key taken."""


class InvalidRequestError(AttractError):
    """Input that passed the schema but breaks a rule across fields (answered as 422, like schema errors)."""

    def __init__(self, field: str, rule: str, message: str, location: str = "query"):
        super().__init__(message)
        self.field, self.rule, self.message, self.location = field, rule, message, location


class RulesBrokenError(AttractError):
    """Input that breaks several named rules at once (422 listing each: {field, location, rule, message})."""

    def __init__(self, message: str, errors: list[dict]):
        super().__init__(message)
        self.message, self.errors = message, errors


class ConflictError(AttractError):
    """The item changed under us, or is busy (a launch in progress): 409, retry later.

    `details` (identifiers only, never personal data) are added to the answer's JSON next to `message`."""

    def __init__(self, message: str = "", **details: str):
        super().__init__(message)
        self.details = details


class PreconditionFailedError(AttractError):
    """An `If-Match` named a version the item no longer has: 412, with the current version (`details`)."""

    def __init__(self, message: str = "", **details: str | int):
        super().__init__(message)
        self.details = details


class UpstreamError(AttractError):
    """A system we read on the caller's behalf (an employer's database, bucket or table) failed: answered as 502."""

    def __init__(self, field: str, rule: str, message: str):
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message
