"""Definitions compiled from source text written from the loss table.

The public functions and module constructors must have PyTorch's signatures exactly (positional
order, defaults, keyword-only markers). Defined from source, as dataclasses and namedtuple do it,
they are ordinary functions: Python binds their arguments, at its own speed and with its own
error messages, and ``help``/``inspect`` show the signature. A closure over ``*args`` could do
neither.
"""

import linecache

# What the definitions report as their module: where users find them (and pickle looks them up).
PUBLIC_MODULE = "fastloss.torch"


def define(source: str, name: str, namespace: dict):
    """The object ``name`` that ``source`` defines, ``namespace`` being its globals."""
    filename = f"<fastloss.torch: generated {name}>"
    # (registered so that tracebacks and inspect.getsource show the generated lines)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # (no __name__ in the globals: torch.compile would take them for that module's and confuse the
    # definitions' like-named globals, such as every function's _loss)
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    defined = scope[name]
    methods = [m for m in vars(defined).values() if callable(m)] if isinstance(defined, type) \
        else []
    for member in [defined, *methods]:
        member.__module__ = PUBLIC_MODULE
    return defined
