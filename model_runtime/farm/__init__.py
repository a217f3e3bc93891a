"""Beyond one box: batch shot generation on a cluster (`ray_submit`: the `ray-submit` command, docs/farm.md).

A render farm's task is `python -m model_runtime generate --blend FILE --shot NAME --out DIR`
(model_runtime/takes/cli.py); `ray-submit` sends a list of such shots to a Ray cluster, one Ray task
a shot, each running the same function as `generate`.
"""
