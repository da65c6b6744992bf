"""vmbt_shells - ask bash, zsh and fish what they complete, for the completion tests.

bash is the machine's, with bash-completion. zsh and fish need not be
installed: when they are not, Debian's packages (and fish's one library
the machine may lack) are fetched with `apt-get download` and unpacked
with dpkg-deb into a cache outside the checkout, as vmbt_guest.py does
for the guest kernel; nothing is installed:

    /var/tmp/vmnet-broker-shells/tree/   zsh, fish and their data, relocated

complete(shell, completion_file, line, env) returns the candidates the
shell offers for @line (a command line ending where TAB is pressed):

- bash: the completion function run with COMP_WORDS set, as bash would;
- zsh: an interactive zsh on a pseudo-terminal (zsh/zpty) with compinit,
  the file's directory first in fpath, TAB bound to complete-word, and
  compadd wrapped to print what it adds;
- fish: `complete -C LINE` after sourcing the file.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

CACHE = os.environ.get("VMBT_SHELLS_CACHE", "/var/tmp/vmnet-broker-shells")
PACKAGES = ("zsh", "zsh-common", "fish", "fish-common", "libpcre2-32-0")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


class Unavailable(Exception):
    """The shell cannot be had here (no package source, no tools)."""


def _tree():
    """The unpacked packages, made once (atomically) and kept."""
    tree = os.path.join(CACHE, "tree")
    if os.path.isdir(tree):
        return tree
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed" % tool)
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=CACHE)
    try:
        p = subprocess.run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                            *PACKAGES], cwd=work, capture_output=True, text=True, timeout=600,
                           stdin=subprocess.DEVNULL)
        debs = glob.glob(os.path.join(work, "*.deb"))
        if p.returncode != 0 or len(debs) != len(PACKAGES):
            raise Unavailable("apt-get download %s: %s" % (" ".join(PACKAGES),
                                                            (p.stderr or p.stdout)[-300:]))
        out = os.path.join(work, "tree")
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", deb, out], check=True, capture_output=True)
        # fish takes its data from ../share/fish beside its binary when
        # ../etc/fish is there too: a relocated install.
        os.symlink("../etc", os.path.join(out, "usr", "etc"))
        os.rename(out, tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree


def _libdir(tree):
    return os.path.join(tree, "usr", "lib", "x86_64-linux-gnu")


def available(shell):
    """None when @shell can be run here, else why not."""
    if shell == "bash":
        return None if os.path.exists(BASH_COMPLETION) else "bash-completion is not installed"
    if shutil.which(shell):
        return None
    try:
        _tree()
    except Unavailable as e:
        return str(e)
    return None


ZSH_DRIVER = r"""
zsh_bin=$1 compdir=$2 line=$3
zmodload zsh/zpty || exit 3
zpty -b z "$zsh_bin -f -i"
init="module_path=($module_path); fpath=($compdir $fpath); PS1=''
autoload -U compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
bindkey '^I' complete-word
compadd() { local -a __m; builtin compadd -O __m \"\$@\"; (( \$#__m )) && print -r -- \"\${(j: :)\${(@)__m/#/@M@}}\"; builtin compadd \"\$@\" }
_vmbt_done() { print -r -- '@DONE@' }
comppostfuncs=(_vmbt_done)
print -r -- READY'@'INIT"
zpty -w z "$init"
out=""
while (( SECONDS < 20 )); do
  if zpty -r -t z chunk 2>/dev/null; then out+=$chunk; else sleep 0.02; fi
  [[ $out == *READY@INIT* ]] && break
done
[[ $out == *READY@INIT* ]] || { print -u2 "zsh did not start: $out"; exit 4 }
zpty -w -n z "$line"$'\t'
out=""; start=$SECONDS
while (( SECONDS - start < 10 )); do
  if zpty -r -t z chunk 2>/dev/null; then out+=$chunk; else sleep 0.02; fi
  [[ $out == *@DONE@* ]] && break
done
zpty -d z
[[ $out == *@DONE@* ]] || { print -u2 "no completion: $out"; exit 5 }
print -r -- "$out"
"""


def _zsh(tree):
    """(argv of zsh, its module path, its function dirs), the machine's or the cache's."""
    if shutil.which("zsh"):
        return [shutil.which("zsh")], None, None
    version = sorted(glob.glob(os.path.join(_libdir(tree), "zsh", "*")))[-1]
    funcs = os.path.join(tree, "usr", "share", "zsh", "functions")
    dirs = sorted(d for d in glob.glob(funcs + "/**/", recursive=True))
    return [os.path.join(tree, "bin", "zsh")], version, dirs


def _run(argv, env, timeout=60):
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (argv[0], p.returncode, p.stdout,
                                                           p.stderr))
    return p.stdout


def complete(shell, completion_file, line, env):
    """The candidates @shell offers at the end of @line, sorted."""
    env = dict(env)
    if shell == "bash":
        words = line.split(" ")
        prog = ('source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE="%s"; '
                'COMP_POINT=${#COMP_LINE}; _vmnet_broker; printf "%%s\\n" "${COMPREPLY[@]}"'
                % (BASH_COMPLETION, completion_file, " ".join("'%s'" % w for w in words),
                   len(words) - 1, line))
        return sorted(_run(["bash", "-c", prog], env).split())
    tree = None if shutil.which(shell) else _tree()
    if shell == "fish":
        if tree:
            env["LD_LIBRARY_PATH"] = ":".join(filter(None, [env.get("LD_LIBRARY_PATH"),
                                                            _libdir(tree)]))
        fish = shutil.which("fish") or os.path.join(tree, "usr", "bin", "fish")
        out = _run([fish, "--no-config", "-c", "source %s; complete -C%s" % (
            completion_file, _fish_quote(line))], env)
        return sorted(c.split("\t")[0] for c in out.splitlines() if c)
    argv, modules, funcs = _zsh(tree)
    prelude = ""
    if modules:
        prelude = "module_path=(%s); fpath=(%s)\n" % (modules, " ".join(funcs))
    with tempfile.NamedTemporaryFile("w", suffix=".zsh") as f:
        f.write(prelude + ZSH_DRIVER)
        f.flush()
        out = _run(argv + ["-f", f.name, argv[0], os.path.dirname(completion_file), line], env)
    return sorted(set(re.findall(r"@M@([^\s@\x1b]+)", out)))


def _fish_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
