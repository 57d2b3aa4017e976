"""The projector: runs asynchronous projections and rebuilds any projection."""

from projector.rebuild import rebuild
from projector.runner import ProjectionRunner

__all__ = ["ProjectionRunner", "rebuild"]
