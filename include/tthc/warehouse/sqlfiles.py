"""The SQL files under include/sql: rendered through Jinja, split into statements, and the models'
declarations.

Every file may call the macros of include/sql/macros/*.sql (each rule written once there), by name
and without an import, as dbt does. Jinja only assembles SQL text: values stay SQLAlchemy bind
parameters (`:period`), so a macro is called with SQL expressions (`rate('m.numerator',
'm.denominator')`), never with data. Files also see `dialect` (the engine's name) for the rare macro
that must differ between SQLite and PostgreSQL.

A model (include/sql/models/<name>.sql, building the relation <name>) declares:
- what it reads of the other models, as `{{ ref('core_figure') }}` where it names them (a macro
  calling ref() adds its reads to the models calling it);
- when it is refreshed, as `{{ config(refresh='...') }}`: 'schema' (a derived view, re-created with
  the schema on every migrate, so changing its rule needs no migration), 'period' (a month's marts),
  'rollup' (a roll-up's marts). A model without it is run by its own pipeline step.
The refresh order follows the declared reads (models_in_order), never a list written in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, nodes

from ..settings import SQL_DIR

MODELS_DIR = "models"
MACROS_DIR = "macros"
REFRESH_KINDS = ("schema", "period", "rollup")


class SqlFileError(ValueError):
    """A SQL file that cannot be rendered, or a model whose declarations do not hold together."""


@dataclass(frozen=True)
class Model:
    name: str  # the file's stem: the relation the model builds
    refresh: str | None  # one of REFRESH_KINDS, or None: run by its own pipeline step
    reads: tuple[str, ...]  # the models it names with ref(), itself or through the macros it calls


def split_statements(sql: str) -> list[str]:
    """Statements of a SQL file: each ends with ';' at the end of a line, outside a $$ body
    (PostgreSQL DO blocks); comment-only chunks are dropped."""
    out, current, in_body = [], [], False
    for line in sql.splitlines():
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            out.append("\n".join(current))
            current = []
    out.append("\n".join(current))
    statements = []
    for chunk in out:
        code = [ln for ln in chunk.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        if code:
            statements.append(chunk.strip().removesuffix(";"))
    return statements


def _template_name(name: str) -> str:
    return name if name.endswith(".sql") else f"{name}.sql"


def _ref(name: str) -> str:
    if name not in models():
        raise SqlFileError(f"ref({name!r}): no model include/sql/{MODELS_DIR}/{name}.sql")
    return name


def _config(**_declarations) -> str:
    # Read from the file's syntax tree by models(); rendering leaves nothing in the SQL.
    return ""


def _base_environment(dialect: str) -> Environment:
    env = Environment(loader=FileSystemLoader(SQL_DIR), undefined=StrictUndefined, autoescape=False,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(dialect=dialect, ref=_ref, config=_config)
    return env


def _parse(env: Environment, template: str) -> nodes.Template:
    try:
        source, filename, _ = env.loader.get_source(env, template)
        return env.parse(source, template, filename)
    except TemplateError as exc:
        raise SqlFileError(f"include/sql/{template}, line {getattr(exc, 'lineno', '?')}: {exc.message}") from exc


@lru_cache(maxsize=1)
def _macros() -> dict[str, tuple[str, nodes.Macro]]:
    """Every macro of include/sql/macros/*.sql, by name (those named _x are private to their file):
    its file and its syntax tree."""
    env = _base_environment("")
    found: dict[str, tuple[str, nodes.Macro]] = {}
    for path in sorted((SQL_DIR / MACROS_DIR).glob("*.sql")):
        template = f"{MACROS_DIR}/{path.name}"
        for macro in _parse(env, template).find_all(nodes.Macro):
            key = f"{template}:{macro.name}" if macro.name.startswith("_") else macro.name
            if key in env.globals or key in found:
                other = found[key][0] if key in found else "a name every SQL file already has"
                raise SqlFileError(f"include/sql/{template}, line {macro.lineno}: macro {macro.name} is also "
                                   f"defined in {other}")
            found[key] = (template, macro)
    return found


@lru_cache(maxsize=4)
def _environment(dialect: str) -> Environment:
    """The environment every SQL file renders in: `dialect`, `ref`, `config` and every public
    macro of include/sql/macros/ (no import needed)."""
    env = _base_environment(dialect)
    for name, (template, _) in _macros().items():
        if not name.startswith(f"{MACROS_DIR}/"):
            env.globals[name] = getattr(env.get_template(template).module, name)
    return env


@lru_cache(maxsize=512)
def read_sql(name: str, dialect: str) -> tuple[str, ...]:
    """The statements of include/sql/<name>.sql rendered for the dialect ('sqlite', 'postgresql'),
    once per file and dialect."""
    template = _template_name(name)
    try:
        sql = _environment(dialect).get_template(template).render()
    except (TemplateError, SqlFileError) as exc:
        raise SqlFileError(f"{_where(exc, template)}: {getattr(exc, 'message', None) or exc}") from exc
    return tuple(split_statements(sql))


def _where(exc: Exception, template: str) -> str:
    """The SQL file and line an error arose in: a syntax error's, or the innermost template line of
    the traceback (Jinja maps its frames to template lines), which may lie in a macro file."""
    where, line = f"include/sql/{template}", getattr(exc, "lineno", None)
    tb = exc.__traceback__ if line is None else None
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.suffix == ".sql" and path.is_relative_to(SQL_DIR):
            where, line = f"include/sql/{path.relative_to(SQL_DIR).as_posix()}", tb.tb_lineno
        tb = tb.tb_next
    if where != f"include/sql/{template}":
        return f"{where}, line {line} (in include/sql/{template})"
    return f"{where}, line {line}" if line else where


def _reads(template: str, tree: nodes.Node, seen: frozenset = frozenset()) -> list[str]:
    """The model names passed to ref() in `tree`, and in the macros it calls (a macro's reads are
    its callers' reads)."""
    reads = []
    macros = _macros()
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name):
            continue
        name = call.node.name
        if name == "ref":
            if len(call.args) != 1 or call.kwargs or not isinstance(call.args[0], nodes.Const):
                raise SqlFileError(f"include/sql/{template}, line {call.lineno}: ref() takes one model name in quotes")
            reads.append(call.args[0].value)
            continue
        key = f"{template}:{name}" if name.startswith("_") else name
        if key in macros and key not in seen:
            macro_template, macro = macros[key]
            reads += _reads(macro_template, macro, seen | {key})
    return reads


def _refresh(template: str, tree: nodes.Template) -> str | None:
    refresh = None
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name) or call.node.name != "config":
            continue
        declared = {k.key: k.value for k in call.kwargs}
        if call.args or set(declared) != {"refresh"} or not isinstance(declared["refresh"], nodes.Const) \
                or declared["refresh"].value not in REFRESH_KINDS:
            raise SqlFileError(f"include/sql/{template}, line {call.lineno}: expected config(refresh=...) with "
                               f"one of {', '.join(map(repr, REFRESH_KINDS))}")
        refresh = declared["refresh"].value
    return refresh


@lru_cache(maxsize=1)
def models() -> dict[str, Model]:
    """Every model file's declarations, read from its Jinja syntax tree: its config() call, and the
    ref() calls in it and in the macros it calls."""
    env = _base_environment("")
    found = {}
    for path in sorted((SQL_DIR / MODELS_DIR).glob("*.sql")):
        template = f"{MODELS_DIR}/{path.name}"
        tree = _parse(env, template)
        reads = [r for r in dict.fromkeys(_reads(template, tree)) if r != path.stem]
        found[path.stem] = Model(path.stem, _refresh(template, tree), tuple(reads))
    for model in found.values():
        for read in model.reads:
            if read not in found:
                raise SqlFileError(f"include/sql/{MODELS_DIR}/{model.name}.sql: ref({read!r}): "
                                   f"no model include/sql/{MODELS_DIR}/{read}.sql")
    return found


def models_in_order(refresh: str) -> list[str]:
    """The models refreshed as `refresh`, each after every model it reads (those ready together
    by name, so the order is the same on every machine)."""
    if refresh not in REFRESH_KINDS:
        raise SqlFileError(f"unknown refresh {refresh!r}: expected one of {', '.join(REFRESH_KINDS)}")
    declared = models()
    graph = TopologicalSorter({model.name: model.reads for model in declared.values()})
    try:
        graph.prepare()
    except CycleError as exc:
        raise SqlFileError(f"models read each other in a circle: {' → '.join(exc.args[1])}") from exc
    order = []
    while graph.is_active():
        ready = sorted(graph.get_ready())
        order += ready
        graph.done(*ready)
    return [name for name in order if declared[name].refresh == refresh]
