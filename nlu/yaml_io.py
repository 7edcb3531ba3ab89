"""Read and write Rasa NLU training data (YAML, format version 3.1) as plain blocks.

`parse_nlu_yaml(text)` validates a whole file before returning anything: a bad file raises
`NluYamlError` with the (1-based) line and the reason, so an import is all or nothing.
`dump_nlu_yaml(blocks)` writes blocks in Rasa's layout (`examples: |` with one `- example` a line).

A block is `(kind, name, examples)` with kind `intent`, `regex`, `lookup` or `synonym`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

KINDS = ("intent", "regex", "lookup", "synonym")
INTENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}(/[a-z][a-z0-9_]{0,62})?$")
# Entity annotation: [text](entity) or [text]{"entity": ...}
_ANNOTATION = re.compile(r"\[[^\[\]]+\](\([^()]+\)|\{[^{}]+\})")
MAX_EXAMPLE = 2000


class NluYamlError(ValueError):
    def __init__(self, line: int | None, reason: str, source: str = "") -> None:
        where = f"{source}: " if source else ""
        where += f"第 {line} 行: " if line else ""
        super().__init__(where + reason)
        self.line, self.reason, self.source = line, reason, source


@dataclass(frozen=True)
class Block:
    kind: str
    name: str
    examples: tuple[str, ...]
    line: int = 0


def _scalar(node, what: str, source: str) -> str:
    if not isinstance(node, ScalarNode):
        raise NluYamlError(node.start_mark.line + 1, f"{what} 应为文本", source)
    return str(node.value)


def parse_nlu_yaml(text: str, source: str = "") -> list[Block]:
    """Validate and read one Rasa NLU YAML file. Raises NluYamlError(line, reason)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise NluYamlError(mark.line + 1 if mark else None, f"YAML 语法错误：{exc.problem or exc}", source) from None
    except yaml.YAMLError as exc:
        raise NluYamlError(None, f"YAML 语法错误：{exc}", source) from None
    if root is None:
        raise NluYamlError(1, "文件为空", source)
    if not isinstance(root, MappingNode):
        raise NluYamlError(root.start_mark.line + 1, "顶层应为映射（version: / nlu:）", source)
    nlu_node = None
    for key_node, value_node in root.value:
        key = _scalar(key_node, "键", source)
        if key == "version":
            version = _scalar(value_node, "version", source)
            if not version.startswith("3"):
                raise NluYamlError(value_node.start_mark.line + 1, f"不支持的格式版本 {version}（应为 \"3.1\"）", source)
        elif key == "nlu":
            nlu_node = value_node
        else:
            raise NluYamlError(key_node.start_mark.line + 1,
                               f"不支持的顶层键 {key}：只能导入 NLU 训练数据（version、nlu）", source)
    if nlu_node is None:
        raise NluYamlError(1, "缺少 nlu: 部分", source)
    if not isinstance(nlu_node, SequenceNode):
        raise NluYamlError(nlu_node.start_mark.line + 1, "nlu: 应为列表（每项以 - intent: 开头）", source)
    blocks = []
    for item in nlu_node.value:
        blocks.append(_block(item, source))
    if not blocks:
        raise NluYamlError(nlu_node.start_mark.line + 1, "nlu: 列表为空", source)
    return blocks


def _block(item, source: str) -> Block:
    line = item.start_mark.line + 1
    if not isinstance(item, MappingNode):
        raise NluYamlError(line, "每项应为映射，例如 - intent: 名称", source)
    fields = {}
    for key_node, value_node in item.value:
        key = _scalar(key_node, "键", source)
        if key in fields:
            raise NluYamlError(key_node.start_mark.line + 1, f"重复的键 {key}", source)
        fields[key] = value_node
    kinds = [k for k in KINDS if k in fields]
    if len(kinds) != 1:
        raise NluYamlError(line, "每项必须且只能有 intent、regex、lookup、synonym 之一", source)
    kind = kinds[0]
    unknown = set(fields) - {kind, "examples", "metadata"}
    if unknown:
        key_node = next(k for k, _ in item.value if k.value in unknown)
        raise NluYamlError(key_node.start_mark.line + 1, f"不支持的键 {key_node.value}", source)
    name = _scalar(fields[kind], kind, source).strip()
    if kind == "intent" and not INTENT_NAME_RE.match(name):
        raise NluYamlError(fields[kind].start_mark.line + 1,
                           f"意图名 {name!r} 不合法：小写字母、数字、下划线，FAQ 主题写作 faq/主题", source)
    if not name:
        raise NluYamlError(fields[kind].start_mark.line + 1, f"{kind} 名称为空", source)
    if "examples" not in fields:
        raise NluYamlError(line, f"{kind} {name} 缺少 examples", source)
    ex_node = fields["examples"]
    if not isinstance(ex_node, ScalarNode):
        raise NluYamlError(ex_node.start_mark.line + 1, "examples 应为文本块（examples: |，每行一条 - 例句）", source)
    # A block scalar's content starts on the line after `examples: |`.
    first = ex_node.start_mark.line + (2 if ex_node.style in ("|", ">") else 1)
    examples = []
    for offset, raw in enumerate(str(ex_node.value).split("\n")):
        stripped = raw.strip()
        if not stripped:
            continue
        lineno = first + offset
        if not stripped.startswith("- ") and stripped != "-":
            raise NluYamlError(lineno, f"例句行应以“- ”开头：{stripped[:40]}", source)
        text = stripped[1:].strip()
        if not text:
            raise NluYamlError(lineno, "空例句", source)
        if len(text) > MAX_EXAMPLE:
            raise NluYamlError(lineno, f"例句过长（超过 {MAX_EXAMPLE} 字）", source)
        if kind == "intent":
            rest = _ANNOTATION.sub("", text)
            if "[" in rest or "](" in rest:
                raise NluYamlError(lineno, f"实体标注不完整（应为 [文字](实体)）：{text[:40]}", source)
        if kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                raise NluYamlError(lineno, f"正则表达式错误：{exc}", source) from None
        examples.append(text)
    if not examples:
        raise NluYamlError(ex_node.start_mark.line + 1, f"{kind} {name} 没有例句", source)
    return Block(kind, name, tuple(examples), line)


def read_nlu_dir(directory: Path) -> list[Block]:
    """Every block of every *.yml under a Rasa data directory (sorted by file name)."""
    blocks = []
    for path in sorted(Path(directory).rglob("*.yml")):
        blocks += parse_nlu_yaml(path.read_text(encoding="utf-8"), path.name)
    return blocks


def dump_nlu_yaml(blocks, header: str | None = None) -> str:
    """Rasa NLU YAML of blocks (anything with .kind, .name, .examples)."""
    lines = ['version: "3.1"']
    if header:
        lines += [f"# {h}" for h in header.splitlines()]
    lines.append("nlu:")
    for block in blocks:
        name = str(block.name)
        quoted = name if re.fullmatch(r"[A-Za-z0-9_/\-]+", name) else _quote(name)
        lines.append(f"- {block.kind}: {quoted}")
        lines.append("  examples: |")
        for example in block.examples:
            lines.append(f"    - {' '.join(str(example).split())}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- answers

def normalize_answer(text: str) -> str:
    """What faq_answers.yml's folded blocks mean: a folded line break next to a Chinese character is
    not a space (same rule as nlu.client.load_answers); placeholders stay as written."""
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", str(text).strip())


def read_answers(path: Path) -> dict[str, str]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {str(k): normalize_answer(v) for k, v in raw.items()}


def dump_answers(answers: dict[str, str]) -> str:
    return yaml.safe_dump(dict(sorted(answers.items())), allow_unicode=True, sort_keys=False, width=1000)
