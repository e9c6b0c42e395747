"""The engine's hot modules compiled to C by Cython, from the very same ``.py`` files.

``python -m portal.deid`` compiles them into ``build/native/<key>/``, the key being a
hash of their sources, of Cython's version and of this Python's ABI; ``install()``, run when
``portal.deid`` is imported, loads the build whose key matches the sources on disk, so an
edited module is never shadowed by an older build. Without a build (no C compiler, or
``PORTAL_DEID_PURE=1``) the pure-Python modules run: the same results (a test compares the
two), at about three quarters of the speed.
"""
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILDS = HERE.parent.parent / "build" / "native"
#: compiled, in this order: each one's imports of the others find the compiled one
MODULES = ("validators", "numbers", "detectors", "operators", "streams", "engine", "parallel")
SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
log = logging.getLogger(__name__)


def key() -> str:
    """What a build is good for: these sources, this Cython and this interpreter."""
    digest = hashlib.sha256(f"{_cython_version()}|{SUFFIX}|{sys.version}".encode())
    for name in MODULES:
        digest.update((HERE / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def _cython_version() -> str:
    try:
        from Cython import __version__
    except ImportError:
        return "none"
    return __version__


def active() -> bool:
    """True when the compiled modules are the ones in use."""
    return all(getattr(sys.modules.get(f"portal.deid.{name}"), "__file__", "").endswith(SUFFIX)
               for name in MODULES)


def pure_asked() -> bool:
    """``PORTAL_DEID_PURE`` set (to anything but empty, 0, off, false or no)."""
    return os.environ.get("PORTAL_DEID_PURE", "").strip().lower() not in ("", "0", "off", "false", "no")


def install() -> bool:
    """Load the build matching the sources, before anything imports the pure modules."""
    if pure_asked() or any(f"portal.deid.{name}" in sys.modules for name in MODULES):
        return False
    folder = BUILDS / key()
    if not folder.is_dir():
        return False
    package, loaded = sys.modules["portal.deid"], []
    try:
        for name in MODULES:
            spec = importlib.util.spec_from_file_location(f"portal.deid.{name}", folder / f"{name}{SUFFIX}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            loaded.append(name)
            spec.loader.exec_module(module)
            setattr(package, name, module)  # as an import binds a submodule to its package
    except (ImportError, OSError) as error:  # a damaged build: the pure modules still work
        log.warning("deid: not using the compiled engine in %s: %s", folder, error)
        for name in loaded:
            del sys.modules[f"portal.deid.{name}"]
            package.__dict__.pop(name, None)
        return False
    return True


def build() -> Path:
    """Compile the modules unless a build for their current sources exists; its folder."""
    folder = BUILDS / key()
    if folder.is_dir():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        # Cython names a module after the packages around it (their __init__.py files)
        package = Path(tmp, "portal", "deid")
        package.mkdir(parents=True)
        for init in (package.parent / "__init__.py", package / "__init__.py"):
            init.touch()
        sources = [shutil.copy(HERE / f"{name}.py", package) for name in MODULES]
        from portal.deid.parallel import cores

        subprocess.run([sys.executable, "-m", "Cython.Build.Cythonize", "-3", "-i", "-q", "-j", str(cores()), *sources],
                       cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        BUILDS.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=BUILDS))  # hidden until complete
        partial.chmod(0o755)  # as readable as the sources it was built from
        for name in MODULES:
            shutil.copy(package / f"{name}{SUFFIX}", partial)
        try:
            partial.rename(folder)
        except OSError:  # another process built the same sources meanwhile: keep its build
            shutil.rmtree(partial, ignore_errors=True)
    for old in BUILDS.iterdir():  # builds of older sources are never loaded again
        if old.name != folder.name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return folder


def main() -> None:
    """``python -m portal.deid``: build, or say why the pure-Python engine will run."""
    try:
        print(f"deid: compiled engine in {build()}")
    except (subprocess.CalledProcessError, OSError) as error:
        # not fatal: the pure-Python modules give the same results, slower
        print(f"deid: could not compile the engine ({error}); the pure-Python one runs", file=sys.stderr)
