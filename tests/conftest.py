import os

import pytest

# What template.yaml's Globals give every function; set before any attract module creates its Metrics.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "attract")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Attract")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` keeps an `xdist_group`'s tests on one worker by the "@<group>" suffix of their node ids.
    pytest-xdist 3.8 writes that suffix to `item._nodeid`, which pytest 9 no longer reads (the id is `_id`): every
    group was silently ignored, and the `heavy` tests spread over both workers (two `make demo` runs at once,
    sharing `.local/`). The same suffix, where pytest 9 keeps the id; nothing when xdist already put it there."""
    from _pytest.nodes import coerce_node_id

    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix):
            item._id = coerce_node_id(item.nodeid + suffix)
