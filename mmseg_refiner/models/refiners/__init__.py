from .global_local import GlobalLocalRefiner
from .instance import InstanceRefiner
from .segrefiner import SegRefiner

__all__ = ['GlobalLocalRefiner', 'InstanceRefiner', 'SegRefiner']
