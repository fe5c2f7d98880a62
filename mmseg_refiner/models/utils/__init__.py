from .precision import PRECISIONS, check_precision, network_in_precision, resolve_precision

__all__ = ['PRECISIONS', 'check_precision', 'network_in_precision', 'resolve_precision']
