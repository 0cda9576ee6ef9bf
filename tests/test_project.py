"""The project's own files agree with each other."""

from __future__ import annotations

import re
import tomllib

import yaml


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = {r for r in project["dependencies"]} | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {p.split("#")[0].strip() for p in pip if not p.startswith("-e")}
    by_name = {_name(r): r for r in listed}
    for req in wanted:
        assert _name(req) in by_name, f"{req} is in pyproject.toml but not in environment.yml"
        if _name(req) != "torch":
            assert by_name[_name(req)] == req, f"{req} differs in environment.yml"
    assert set(by_name) == {_name(r) for r in wanted}


def test_constraints_pin_cpu_torch_and_every_dependency(root):
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert pins["torch"] == "2.13.0"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert _name(req).replace("_", "-") in pins, f"{req} has no pinned version"


def test_ci_runs_the_readme_test_command(root):
    readme = (root / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in (root / ".ci" / "run").read_text()


def test_no_code_downloads_at_run_time(root):
    """Models load from local folders only; no URL is fetched by the package or chapters."""
    pattern = re.compile(r"(urlopen|requests\.get|hf_hub_download|snapshot_download|"
                         r"from_pretrained\(\s*['\"][\w.-]+/[\w.-]+['\"])")
    files = list((root / "src").rglob("*.py")) + list((root / "chapters").glob("*.ipynb")) \
        + list((root / "solutions").glob("*.ipynb"))
    offenders = [str(f.relative_to(root)) for f in files if pattern.search(f.read_text())]
    assert not offenders, f"these files would download at run time: {offenders}"


def test_every_chapter_is_in_the_toc_and_has_an_exercise_set(root):
    toc = (root / "_toc.yml").read_text()
    for nb in sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb")):
        assert f"chapters/{nb.stem}" in toc, f"{nb.name} is not in _toc.yml"
        assert (root / "solutions" / nb.name).exists(), f"{nb.name} has no exercise master"
        assert (root / "exercises" / nb.name).exists(), f"{nb.name} has no learner notebook"


def test_committed_notebooks_carry_no_outputs(root):
    import nbformat

    for folder in ("chapters", "solutions"):
        for path in (root / folder).glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            with_outputs = [i for i, c in enumerate(nb.cells)
                            if c.cell_type == "code" and c.get("outputs")]
            assert not with_outputs, f"{path.name} has outputs in cells {with_outputs}"


def test_every_module_is_reachable_from_the_package(root):
    import importlib

    import embedlab

    modules = {p.stem for p in (root / "src" / "embedlab").glob("*.py")
               if not p.stem.startswith("_") and p.stem != "cli"}
    assert modules == set(embedlab._SUBMODULES), "update _SUBMODULES in embedlab/__init__.py"
    for name in sorted(modules):
        assert getattr(embedlab, name) is importlib.import_module(f"embedlab.{name}")
