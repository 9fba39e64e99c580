from __future__ import annotations


class SimulatorError(Exception):
    """An operation was refused or failed; the message says why and what to do. Nothing was changed."""


class ArgumentError(SimulatorError, ValueError):
    """An argument's value is not one the simulator accepts; the message names it and what is allowed."""


class NotOursError(SimulatorError):
    """Tables with the simulator's names exist, but the simulator did not create them."""


class VerificationError(SimulatorError):
    """The database differs from the manifest of its ledger state."""


class StoppedError(SimulatorError):
    """The operation was stopped on request (the task was killed) before it finished."""


class TargetMismatchError(SimulatorError):
    """The pipeline's target differs from the simulated source; the report names every difference."""
