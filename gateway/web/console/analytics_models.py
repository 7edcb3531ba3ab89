"""The analytics API's responses (documented in the OpenAPI document with these classes;
``tests/gateway/web/console/test_analytics.py`` checks real responses against them)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AnalyticsNamed(BaseModel):
    code: str = Field(description="目录代码；空字符串表示未分类")
    name: str


class AnalyticsSeries(AnalyticsNamed):
    data: list[int]


class AnalyticsVolumeByDay(BaseModel):
    days: list[str] = Field(description="周期内每一天（本地日期 YYYY-MM-DD）")
    series: list[AnalyticsSeries] = Field(description="每个渠道一条，与 days 一一对应的工单数")


class AnalyticsVolumeByHour(BaseModel):
    hours: list[int]
    series: list[AnalyticsSeries] = Field(description="每个渠道一条：0–23 时（本地时间）的工单数，周期内合计")


class AnalyticsHeatCell(BaseModel):
    department: str
    region: str
    count: int


class AnalyticsHeatMap(BaseModel):
    departments: list[AnalyticsNamed]
    regions: list[AnalyticsNamed]
    cells: list[AnalyticsHeatCell]


class AnalyticsNamedCount(AnalyticsNamed):
    count: int


class AnalyticsAgeBucket(BaseModel):
    label: str
    count: int


class AnalyticsBacklog(BaseModel):
    open: int = Field(description="当前未办结（待审核、已交办、办理中、已退回、答复待审核）的工单数；不受日期影响")
    overdue: int = Field(description="其中已超过办理期限的")
    ages: list[AnalyticsAgeBucket]


class AnalyticsBotShare(BaseModel):
    faq_answers: int | None = Field(description="智能客服直接答复、未生成工单的咨询；按部门/区域/类型筛选时为 null")
    emergencies: int = Field(description="引导拨打 110/119/120/122 的紧急诉求")
    handoffs: int = Field(description="转人工（生成工单、非紧急）的诉求")
    tickets: int
    bot_share_pct: float | None = Field(description="智能客服自行处理（答复或引导）的占比")
    predicted: int = Field(description="智能客服预分类的工单")
    corrected: int = Field(description="其中坐席更正了预分类的")
    correction_rate_pct: float | None


class AnalyticsUnitRates(BaseModel):
    unit: str
    name: str
    kind: str
    received: int
    response_pct: float | None = Field(description="响应率：按时签收的交办占比")
    solved_pct: float | None = Field(description="解决率")
    satisfied_pct: float | None = Field(description="满意率")


class AnalyticsResponse(BaseModel):
    from_: str = Field(alias="from")
    to: str
    filters: dict[str, str]
    total: int
    volume_by_day: AnalyticsVolumeByDay
    volume_by_hour: AnalyticsVolumeByHour
    heat_map: AnalyticsHeatMap
    request_types: list[AnalyticsNamedCount]
    backlog: AnalyticsBacklog
    bot: AnalyticsBotShare
    units: list[AnalyticsUnitRates]
    refreshed_at: str | None = Field(description="汇总表最近一次更新的时间；之后的变化在下一周期计入")


class AnalyticsAlert(BaseModel):
    id: int
    kind: str = Field(description="burst：同一区域集中反映")
    region: str | None
    region_name: str
    keyword: str
    count: int
    window_start: str
    window_end: str
    created_at: str
    created_label: str = Field(description="本地时间，如 12月1日 14:05")
    mailed: bool = Field(description="是否已邮件通知班长")


class AnalyticsTopic(BaseModel):
    keyword: str
    count: int = Field(description="本期含该关键词的工单数")
    previous: int = Field(description="上期（等长）的工单数")


class AnalyticsHotspotsResponse(BaseModel):
    alerts: list[AnalyticsAlert] = Field(description="近 7 天的热点预警，最新在前")
    rising_24h: list[AnalyticsTopic]
    rising_7d: list[AnalyticsTopic]
    rising_computed_at: str | None = Field(description="工作进程最近一次计算上升话题的时间；null 表示尚未计算")
