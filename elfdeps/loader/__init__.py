"""Static emulation of the glibc dynamic loader (resolution only; binding lives in elfdeps.binding)."""

from elfdeps.loader.environment import LoaderEnv, TargetSystem, describe_target
from elfdeps.loader.graph import Emulation, emulate

__all__ = ["Emulation", "LoaderEnv", "TargetSystem", "describe_target", "emulate"]
