"""Why a training job failed, in words an admin can act on.

The job row keeps the raw reason (Rasa's exception line, a Python error); the pages show the
Chinese explanation first and the raw text folded away, so the admin reads what to do and the
engineer still finds the original message.  Reasons already written in Chinese by the runner
(cancelled, interrupted) are shown as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (pattern of the raw reason, explanation); the first match wins, so specific before generic.
KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern, re.IGNORECASE), text) for pattern, text in (
    (r"too many connections|max number of clients|connection pool",
     "Redis 连接数已达上限（连接池耗尽），训练进度无法保存。请稍后重试；反复出现请联系运维调大 Redis 连接池。"),
    (r"redis|ConnectionRefusedError|Error \d+ connecting to",
     "无法连接 Redis，训练任务无法协调。请检查 Redis 服务是否运行后重试。"),
    (r"No space left on device|ENOSPC",
     "磁盘空间不足，模型无法保存。请清理模型缓存目录或扩容后重试。"),
    (r"MemoryError|out of memory|OOM|退出码 -9\b|Killed",
     "训练进程内存不足被系统终止。请减少训练轮数，或在空闲时重试。"),
    (r"InvalidConfigException|InvalidDomain|config\.yml",
     "训练配置无效（config.yml 的流水线有误）。请检查配置文件或恢复默认配置。"),
    (r"YamlSyntaxException|YamlValidationException|InvalidYaml|training data",
     "训练数据格式有误。请检查最近导入或修改的意图与例句。"),
    (r"at least two|only one intent|needs? at least",
     "训练数据不足：至少需要两个各有例句的意图。"),
    (r"No such file or directory|not found|ModuleNotFoundError|ImportError",
     "找不到 Rasa 或其依赖（训练环境不完整）。请联系运维检查 .venv-rasa。"),
    (r"Timeout|timed out",
     "训练或评估超时。请稍后在负载较低时重试。"),
    (r"评估失败|evaluat",
     "模型已训练，但在留出集上评估失败。可在“模型与启用”页重新评估。"),
))
GENERIC = "训练失败，原因未能自动识别。请展开下方的原始信息，或联系运维。"
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Failure:
    reason: str  # Chinese, what the admin reads first
    detail: str | None  # the raw text, for the folded block (None when the reason is already it)


def explain(raw: str | None) -> Failure | None:
    if not raw:
        return None
    exit_code = re.match(r"rasa train nlu 退出码 (-?\d+)", raw)
    for pattern, text in KNOWN:
        if pattern.search(raw):
            return Failure(text, raw)
    if exit_code:
        return Failure(f"Rasa 训练进程异常退出（退出码 {exit_code.group(1)}）。请展开原始信息查看日志末尾。", raw)
    if _HAN.search(raw.split("：", 1)[0]):  # written in Chinese by the runner (its own words)
        return Failure(raw, None)
    return Failure(GENERIC, raw)
