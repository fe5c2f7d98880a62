"""Registering all modules of mmseg_refiner."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of mmseg_refiner so they are registered.

    Args:
        init_default_scope (bool): also make ``mmseg_refiner`` the current
            default scope, so ``type='X'`` in a config resolves in our
            registries first. Defaults to True.
    """
    import mmseg_refiner.datasets  # noqa: F401,F811
    import mmseg_refiner.engine  # noqa: F401,F811
    import mmseg_refiner.evaluation  # noqa: F401,F811
    import mmseg_refiner.models  # noqa: F401,F811
    import mmseg_refiner.visualization  # noqa: F401,F811

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmseg_refiner':
        if current is not None:
            warnings.warn(f'The current default scope "{current.scope_name}" is not '
                          '"mmseg_refiner"; a new default scope "mmseg_refiner" is created.')
        name = f'mmseg_refiner-{datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")}'
        DefaultScope.get_instance(name, scope_name='mmseg_refiner')
