"""Names of earlier releases that were renamed, refused with the new name.

A config written for an earlier release fails at once with a message naming
the new key or value, rather than with ``unexpected keyword argument`` or a
silently different run. A class lists its renamed constructor arguments in a
``RENAMED_ARGUMENTS`` class attribute (old name -> new name) and catches them
with ``**renamed`` in its signature; :func:`refuse_renamed_arguments` raises
for them. A renamed class keeps its old registry name through
:func:`register_renamed_type`, whose builder raises. The config check
(:mod:`.config_keys`) names both by their key path before anything is built.
"""
from typing import Callable, Mapping


class RenamedError(ValueError):
    """An argument, config key or value under a name this release no longer uses."""


def renamed_message(what: str, old: str, new: str) -> str:
    """``<what> 'old' was renamed 'new'``."""
    return f'{what} {old!r} was renamed {new!r}'


def refuse_renamed_arguments(owner: type, given: Mapping, renamed: Mapping[str, str]) -> None:
    """Raise for keyword arguments a constructor's ``**renamed`` caught.

    Args:
        owner: the class whose constructor was called.
        given: the keyword arguments its signature did not name.
        renamed: the class's ``RENAMED_ARGUMENTS`` (old name -> new name).

    Raises:
        RenamedError: for the first of ``given`` that was renamed.
        TypeError: for any other, as Python does for an unknown keyword.
    """
    for key in given:
        if key in renamed:
            raise RenamedError(renamed_message(f'{owner.__name__}: argument', key, renamed[key]))
    if given:
        raise TypeError(f'{owner.__name__}.__init__() got an unexpected keyword argument '
                        f'{next(iter(given))!r}')


def register_renamed_type(registry, old: str, new: type) -> Callable:
    """Register ``old`` in ``registry`` as a builder that refuses it, naming ``new``.

    ``type='<old>'`` in a config then fails when built (by any route) with
    ``type 'old' was renamed 'New'``; the builder's ``renamed_to`` attribute
    lets the config check say so before anything is built.
    """

    def refuse(**_) -> None:
        raise RenamedError(renamed_message('type', old, new.__name__))

    refuse.renamed_to = new.__name__
    registry.register_module(name=old, module=refuse)
    return refuse
