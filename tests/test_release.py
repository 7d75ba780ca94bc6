"""Release-ready: ``python -m build`` gives an sdist and a wheel that pass ``twine check
--strict``; the sdist holds the tests and the docs; the wheel, installed into a fresh
virtual environment, builds a documentation root.

The fresh environment gets the wheel alone (``--no-deps``, so no index is needed) and
reaches Sphinx and docutils through a ``.pth`` line to the running environment's
``site-packages``, after its own: the ``sphinx_cnntable`` it imports is the wheel's,
checked by its path.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
VGG16_PARAMS = "138,357,544"  # Simonyan & Zisserman (2014), configuration D; torchvision's vgg16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("needs the 'build' package (pip install build)")
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:  # no index to fetch the build backend from: this environment's setuptools
        done = subprocess.run([*command, "--no-isolation"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _one(dist: Path, pattern: str) -> Path:
    (path,) = dist.glob(pattern)
    return path


def test_twine_check_strict(dist: Path) -> None:
    if importlib.util.find_spec("twine") is None:
        pytest.skip("needs the 'twine' package (pip install twine)")
    files = [str(_one(dist, "*.whl")), str(_one(dist, "*.tar.gz"))]
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_sdist_holds_tests_and_docs(dist: Path) -> None:
    with tarfile.open(_one(dist, "*.tar.gz")) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    expected = {"LICENSE", "README.md", "pyproject.toml", "tox.ini", "docs/conf.py", "docs/index.rst",
                "tests/conftest.py", "tests/test_release.py", "tests/roots/test-basic/index.rst",
                "sphinx_cnntable/static/cnntable.css", "sphinx_cnntable/myst_plugin.py"}
    assert expected <= names, sorted(expected - names)
    if tracked.returncode == 0:  # every tracked file under tests/ and docs/ is in it
        wanted = {name for name in tracked.stdout.splitlines() if name.startswith(("tests/", "docs/"))}
        assert wanted <= names, sorted(wanted - names)[:10]
    assert not [name for name in names if "__pycache__" in name or name.startswith("docs/_build")]


def test_wheel_holds_the_package_only(dist: Path) -> None:
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        names = wheel.namelist()
    assert {"sphinx_cnntable/static/cnntable.css", "sphinx_cnntable/static/cnntable.js", "sphinx_cnntable/py.typed"} <= set(names)
    assert {name.split("/", 1)[0] for name in names} == {"sphinx_cnntable", "sphinx_cnntable-0.1.0.dist-info"}
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_wheel_in_a_fresh_venv_builds_docs(dist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    import docutils
    import sphinx

    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                              str(_one(dist, "*.whl"))], capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    # Sphinx and docutils come from the running environment through a .pth file written only
    # after the wheel is in: written before, pip would see the running environment's own
    # sphinx_cnntable (tox installs it there) as already installed and skip the wheel.
    deps = sorted({str(Path(module.__file__).parent.parent) for module in (sphinx, docutils)})
    Path(purelib, "zz-running-env.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    where = subprocess.run([str(python), "-c", "import sphinx_cnntable; print(sphinx_cnntable.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).is_relative_to(env_dir), where
    cli = env_dir / "bin" / "cnntable"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, env=env).stdout.strip()
    assert version == "cnntable 0.1.0"

    src = tmp_path / "docs"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["sphinx_cnntable"]\n', encoding="utf-8")
    spec = (ROOT / "docs" / "specs" / "vgg16.cnn").read_text(encoding="utf-8")
    body = "".join(f"   {line}\n" if line else "\n" for line in spec.splitlines())
    (src / "index.rst").write_text(
        "VGG-16\n======\n\n.. cnn-breakdown:: VGG-16\n   :name: vgg16\n\n" + body
        + "\nVGG-16 has :cnn:`vgg16:params` parameters.\n",
        encoding="utf-8",
    )
    out = tmp_path / "html"
    build = subprocess.run([str(python), "-m", "sphinx", "-W", "-q", "-b", "html", str(src), str(out)],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert build.returncode == 0, build.stdout + build.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="cnntable' in html
    assert f"VGG-16 has {VGG16_PARAMS} parameters" in re.sub(r"<[^>]+>", "", html)
    assert (out / "_static" / "cnntable.css").is_file() and (out / "_static" / "cnntable.js").is_file()
