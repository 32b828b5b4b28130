"""The UI's message catalogue: every label in Chinese and English.

Pages never hold literal labels; they call ``translate(key, lang)`` (the app wraps it
as ``t(key)`` with the session's language). A missing key or language is a bug, so
``tests/test_app_i18n.py`` checks that every message has both.
"""

from __future__ import annotations

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}

MESSAGES: dict[str, dict[str, str]] = {
    # shell and navigation
    "app.title": {"zh": "G市统计工作台", "en": "G City Statistics Workbench"},
    "nav.home": {"zh": "首页", "en": "Home"},
    "nav.catalog": {"zh": "数据目录", "en": "Data catalog"},
    "nav.jobs": {"zh": "作业", "en": "Jobs"},
    "nav.signin": {"zh": "登录", "en": "Sign in"},
    "nav.section.data": {"zh": "数据", "en": "Data"},
    "nav.section.operations": {"zh": "运维", "en": "Operations"},
    "sidebar.language": {"zh": "语言 / Language", "en": "Language / 语言"},
    "sidebar.signed_in_as": {"zh": "当前用户：{name}（{roles}）", "en": "Signed in as {name} ({roles})"},
    "sidebar.signout": {"zh": "退出登录", "en": "Sign out"},
    # roles
    "role.statistician": {"zh": "统计人员", "en": "statistician"},
    "role.researcher": {"zh": "研究人员", "en": "researcher"},
    "role.supervisor": {"zh": "审核主管", "en": "supervisor"},
    "role.data_engineer": {"zh": "数据工程师", "en": "data engineer"},
    # sign-in
    "signin.title": {"zh": "登录统计工作台", "en": "Sign in to the workbench"},
    "signin.username": {"zh": "用户名", "en": "User name"},
    "signin.password": {"zh": "密码", "en": "Password"},
    "signin.submit": {"zh": "登录", "en": "Sign in"},
    "signin.failed": {"zh": "用户名或密码错误。", "en": "Wrong user name or password."},
    "signin.oidc": {"zh": "通过统一身份认证登录", "en": "Sign in with the identity provider"},
    "signin.oidc_no_roles": {
        "zh": "身份认证成功（{email}），但该账号未分配角色，请联系管理员。",
        "en": "Signed in as {email}, but this account has no roles; ask an administrator.",
    },
    "signin.demo_hint": {
        "zh": "演示账号见 README（仅用于演示）。",
        "en": "Demo accounts are listed in the README (demo only).",
    },
    # guard
    "guard.forbidden": {
        "zh": "无权访问：此页面需要以下角色之一：{roles}。",
        "en": "Not allowed: this page needs one of these roles: {roles}.",
    },
    "guard.signin_needed": {"zh": "请先登录。", "en": "Please sign in first."},
    # common
    "common.not_available": {"zh": "暂不可用", "en": "not yet available"},
    "common.none": {"zh": "无", "en": "none"},
    "common.table": {"zh": "表", "en": "table"},
    "common.rows": {"zh": "行数", "en": "rows"},
    "common.version": {"zh": "版本", "en": "version"},
    "common.layer": {"zh": "层级", "en": "layer"},
    "common.owner": {"zh": "负责部门", "en": "owner"},
    "common.title": {"zh": "名称", "en": "title"},
    "common.last_write": {"zh": "最近写入（UTC）", "en": "last write (UTC)"},
    "common.columns": {"zh": "列数", "en": "columns"},
    # home
    "home.lake_empty": {
        "zh": "数据湖为空：请运行 `make lake`（或 `workbench demo generate` 后 `workbench jobs run all`）。",
        "en": "The lake is empty: run `make lake` (or `workbench demo generate` then `workbench jobs run all`).",
    },
    "home.metric.tables": {"zh": "数据表", "en": "Tables"},
    "home.metric.rows": {"zh": "总行数", "en": "Rows"},
    "home.metric.quality": {"zh": "待处理质量问题", "en": "Open quality issues"},
    "home.metric.reviews": {"zh": "待审核运行", "en": "Runs waiting for review"},
    "home.metric.quarantined": {"zh": "隔离行数", "en": "Quarantined rows"},
    "home.lake": {"zh": "数据湖内容", "en": "What is in the lake"},
    "home.freshness": {"zh": "数据源时效", "en": "Freshness of each source"},
    "home.freshness.none": {
        "zh": "尚无加载记录（workbench.loads 暂不可用）。",
        "en": "No loads recorded yet (workbench.loads not yet available).",
    },
    "home.indicators": {"zh": "指标序列", "en": "Indicator series"},
    "home.indicators.pick": {"zh": "选择指标", "en": "Indicators"},
    "home.indicators.none": {
        "zh": "指标表 gold.indicators_monthly 暂不可用。",
        "en": "The indicator table gold.indicators_monthly is not yet available.",
    },
    "col.source": {"zh": "数据源", "en": "source"},
    "col.last_delivery": {"zh": "最近交付期", "en": "last delivery period"},
    "col.last_load": {"zh": "最近加载（UTC）", "en": "last load (UTC)"},
    "col.files": {"zh": "文件数", "en": "files"},
    "col.rejected": {"zh": "拒收文件", "en": "rejected files"},
    "col.rows_loaded": {"zh": "加载行数", "en": "rows loaded"},
    "col.rows_quarantined": {"zh": "隔离行数", "en": "rows quarantined"},
    "col.indicator": {"zh": "指标", "en": "indicator"},
    "col.month": {"zh": "月份", "en": "month"},
    "col.value": {"zh": "数值", "en": "value"},
    # catalog
    "catalog.search": {"zh": "按表名、名称或列名搜索", "en": "Search by table, title or column"},
    "catalog.layer_filter": {"zh": "层级", "en": "Layers"},
    "catalog.no_match": {"zh": "没有匹配的表。", "en": "No table matches."},
    "catalog.pick": {"zh": "选择数据表", "en": "Table"},
    "catalog.description": {"zh": "说明", "en": "Description"},
    "catalog.schema": {"zh": "表结构", "en": "Schema"},
    "catalog.history": {"zh": "版本历史", "en": "Version history"},
    "catalog.rows_over_versions": {"zh": "各版本行数", "en": "Rows over versions"},
    "catalog.preview": {"zh": "数据预览（最多 1,000 行）", "en": "Preview (up to 1,000 rows)"},
    "catalog.filter_column": {"zh": "筛选列", "en": "Filter column"},
    "catalog.filter_value": {"zh": "包含（留空则不筛选）", "en": "Contains (empty: no filter)"},
    "catalog.preview_version": {"zh": "预览版本", "en": "Version to preview"},
    "catalog.path": {"zh": "存储路径", "en": "Path"},
    "catalog.shown": {"zh": "显示 {n} 行", "en": "{n} rows shown"},
    "col.name": {"zh": "列名", "en": "column"},
    "col.type": {"zh": "类型", "en": "type"},
    "col.time": {"zh": "时间（UTC）", "en": "time (UTC)"},
    "col.operation": {"zh": "操作", "en": "operation"},
    "col.who": {"zh": "执行者", "en": "who"},
    "col.parameters": {"zh": "参数", "en": "parameters"},
    # jobs
    "jobs.unavailable": {
        "zh": "作业模块（workbench.pipeline）暂不可用：{error}",
        "en": "The job module (workbench.pipeline) is not yet available: {error}",
    },
    "jobs.list": {"zh": "作业列表", "en": "Jobs"},
    "jobs.pick": {"zh": "选择作业", "en": "Job"},
    "jobs.run_one": {"zh": "运行所选作业", "en": "Run the selected job"},
    "jobs.run_all": {"zh": "运行全部作业", "en": "Run all jobs"},
    "jobs.running": {"zh": "正在运行……", "en": "Running…"},
    "jobs.done": {"zh": "完成：{ok} 成功，{skipped} 跳过，{failed} 失败（{seconds:.1f} 秒）",
                  "en": "Done: {ok} ok, {skipped} skipped, {failed} failed ({seconds:.1f} s)"},
    "jobs.error": {"zh": "作业出错：{error}", "en": "The jobs failed: {error}"},
    "jobs.summary": {"zh": "上次运行结果", "en": "Last run"},
    "jobs.quarantine": {"zh": "隔离数据", "en": "Quarantine"},
    "jobs.quarantine.none": {"zh": "没有隔离表。", "en": "No quarantine tables."},
    "jobs.quarantine.pick": {"zh": "隔离表", "en": "Quarantine table"},
    "jobs.quarantine.reason": {"zh": "按原因筛选", "en": "Filter by reason"},
    "jobs.quarantine.all_reasons": {"zh": "（全部）", "en": "(all)"},
    "col.job": {"zh": "作业", "en": "job"},
    "col.description": {"zh": "说明", "en": "description"},
    "col.inputs": {"zh": "输入", "en": "inputs"},
    "col.outputs": {"zh": "输出", "en": "outputs"},
    "col.status": {"zh": "状态", "en": "status"},
    "col.rows_read": {"zh": "读取行数", "en": "rows read"},
    "col.rows_written": {"zh": "写入行数", "en": "rows written"},
    "col.seconds": {"zh": "耗时（秒）", "en": "seconds"},
    "col.message": {"zh": "信息", "en": "message"},
    "col.reason": {"zh": "原因", "en": "reason"},
    "col.count": {"zh": "行数", "en": "rows"},
}


def translate(key: str, lang: str, **values: object) -> str:
    """The message *key* in *lang*, formatted with *values*.

    An unknown key raises ``KeyError``: a typo must fail in the tests, not show a
    blank label to a user.
    """
    text = MESSAGES[key].get(lang) or MESSAGES[key]["en"]
    return text.format(**values) if values else text
