//! The pages' words in Chinese (the default) and English, and how a page picks its language: an
//! explicit `?lang=`, then the remembered choice, then the browser's `Accept-Language`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "zh" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn pick(chosen: Option<&str>, headers: &HeaderMap) -> Self {
        if let Some(lang) = chosen.and_then(Self::parse) {
            return lang;
        }
        let accepts_english_first = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("en"));
        if accepts_english_first {
            Self::En
        } else {
            Self::Zh
        }
    }
}

const WORDS: &[(&str, &str, &str)] = &[
    ("app", "政策直达", "Policy Push"),
    ("inbox", "消息中心", "Inbox"),
    ("preferences", "推送偏好", "Preferences"),
    ("staff_console", "工作台", "Staff console"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    ("username", "用户名", "User name"),
    ("password", "密码", "Password"),
    ("unread", "未读", "unread"),
    ("read", "已读", "read"),
    ("archived", "已归档", "archived"),
    ("all", "全部", "all"),
    ("state", "状态", "State"),
    ("search", "搜索", "Search"),
    ("filter", "筛选", "Filter"),
    ("pack", "政策服务包", "Policy service pack"),
    ("received", "收到时间", "Received"),
    ("empty", "暂无内容", "Nothing here yet"),
    ("score", "匹配度", "Match"),
    ("eligible", "强相关", "Eligible"),
    ("undetermined", "待确认", "To be confirmed"),
    ("near_miss", "差一项", "One condition short"),
    ("conditions_met", "满足条件", "Conditions met"),
    ("key_points", "解读要点", "Key points"),
    ("why", "为什么推送给您", "Why you got this"),
    ("missing", "待补充信息", "Missing information"),
    ("complete_profile", "完善画像", "Complete your profile"),
    ("how_to_apply", "如何申请", "How to apply"),
    ("hotline", "咨询电话", "Hotline"),
    ("deadline", "截止日期", "Deadline"),
    ("confirm", "确认享受", "Confirm I want this benefit"),
    ("confirmed", "已确认享受意愿", "You confirmed this benefit"),
    ("your_feedback", "您的评价", "Your feedback"),
    ("useful", "有用", "Useful"),
    ("not_useful", "无用", "Not useful"),
    ("comment", "评价（可选）", "Comment (optional)"),
    ("archive", "归档", "Archive"),
    ("channels", "接收渠道", "Channels"),
    ("email", "电子邮件", "E-mail"),
    ("frequency", "推送频率", "Frequency"),
    ("immediate", "即时", "Immediately"),
    ("daily", "每日汇总", "Daily digest"),
    ("weekly", "每周汇总", "Weekly digest"),
    (
        "muted_topics",
        "屏蔽的主题（逗号分隔）",
        "Muted topics (comma-separated)",
    ),
    (
        "quiet_hours",
        "免打扰时段（开始、结束，如 22:00 与 08:00）",
        "Quiet hours (start and end, e.g. 22:00 and 08:00)",
    ),
    ("save", "保存", "Save"),
    ("saved", "已保存", "Saved"),
    ("my_profile", "我的画像", "My profile"),
    ("fill_in", "请补充", "Please add"),
    ("settles", "可确认是否符合：", "to settle:"),
    (
        "profile_complete",
        "画像信息完整，暂无需补充。",
        "Your profile is complete.",
    ),
    (
        "lookup",
        "企业名称或统一社会信用代码",
        "Enterprise name or unified social credit code",
    ),
    (
        "lookup_hint",
        "名称的一部分，或统一社会信用代码的前几位，如：智芯、91110108MA05",
        "part of the name, or the first characters of the credit code, e.g. 智芯, 91110108MA05",
    ),
    ("name", "名称", "Name"),
    ("credit_code", "统一社会信用代码", "Credit code"),
    ("region", "区域", "Region"),
    ("no_results", "没有找到匹配的企业", "No enterprise found"),
    (
        "outside_region_found",
        "您的辖区内没有匹配的企业；辖区外有 {n} 家匹配，需由所在地的工作人员办理。",
        "No match in your district; {n} outside it, for the staff of their own district.",
    ),
    ("as_of", "测算日期", "As of"),
    ("print", "打印", "Print"),
    ("policy", "政策", "Policy"),
    ("home", "返回首页", "Home"),
    ("forbidden", "无权访问", "Not allowed"),
    ("bad_input", "输入有误", "Invalid input"),
    (
        "forbidden_detail",
        "您没有权限查看此页面。",
        "You may not open this page.",
    ),
    (
        "no_profile",
        "您的账号未绑定企业或个人画像。",
        "Your account is not bound to a profile.",
    ),
    ("csrf_title", "页面已过期", "Page expired"),
    (
        "csrf_detail",
        "表单已失效，请返回刷新后重试。",
        "The form expired; go back, reload and try again.",
    ),
    ("bad_form", "提交有误", "Invalid submission"),
    (
        "bad_form_detail",
        "提交的内容不完整或有误，请检查后重试。",
        "The submission is incomplete or invalid; check it and try again.",
    ),
    ("not_found", "未找到", "Not found"),
    (
        "not_found_detail",
        "您访问的页面不存在，请检查地址或从首页进入。",
        "There is no page at this address; check it or start from the home page.",
    ),
    (
        "builder_group_kind",
        "条件组合方式",
        "How the conditions combine",
    ),
    ("builder_field", "条件字段", "Field"),
    ("builder_op", "比较方式", "Comparison"),
    ("builder_value", "取值", "Value"),
    ("method_not_allowed", "无法这样打开", "Not possible here"),
    (
        "method_not_allowed_detail",
        "该页面不支持这种操作，请从页面上的链接或按钮进入。",
        "This page does not take that kind of request; use its links and buttons.",
    ),
    (
        "too_many_requests_detail",
        "请求过于频繁，请稍后再试。",
        "Too many requests; please try again in a moment.",
    ),
    ("server_error", "服务出错", "Something went wrong"),
    (
        "server_error_detail",
        "服务器内部错误，请稍后重试。",
        "Internal server error; please try again later.",
    ),
    ("request_failed", "请求未能处理", "Request not handled"),
    (
        "request_failed_detail",
        "请求未能处理，请返回上一页重试。",
        "The request could not be handled; go back and try again.",
    ),
    ("new_push", "定向推送", "Targeted push"),
    ("push_history", "推送记录", "Push history"),
    ("choose_policies", "选择政策", "Choose policies"),
    (
        "region_within",
        "区域（行政区划代码）",
        "Region (GB/T 2260 code)",
    ),
    (
        "industry_within",
        "行业（国民经济行业代码，可选）",
        "Industry (GB/T 4754 code, optional)",
    ),
    (
        "credit_code_list",
        "统一社会信用代码名单（每行一个，可选）",
        "List of credit codes (one per line, optional)",
    ),
    ("note", "备注", "Note"),
    ("preview", "预览", "Preview"),
    ("recipients", "推送对象", "Recipients"),
    (
        "unknown_codes",
        "未找到的信用代码",
        "Credit codes not found",
    ),
    ("sample", "样例", "Sample"),
    ("confirm_push", "确认推送", "Confirm and push"),
    ("back", "返回修改", "Back"),
    ("push", "推送", "Push"),
    ("status", "状态", "Status"),
    (
        "delivered_to_inbox",
        "已送达消息中心",
        "delivered to inboxes",
    ),
    ("cancel_push", "取消推送", "Cancel the push"),
    ("push_channel", "推送渠道", "Channel"),
    ("count_planned", "计划", "Planned"),
    ("count_delivered", "已送达", "Delivered"),
    ("count_read", "已读", "Read"),
    ("count_pending", "待发送", "Waiting"),
    ("count_failed", "失败", "Failed"),
    (
        "count_dropped",
        "未发送（已撤回或不再符合）",
        "Not sent (withdrawn or no longer eligible)",
    ),
    ("count_cancelled", "已取消", "Cancelled"),
    ("trigger", "触发方式", "Trigger"),
    ("requested_by", "发起人", "Requested by"),
    ("created", "创建时间", "Created"),
    ("planning", "准备中", "planning"),
    ("sending", "发送中", "sending"),
    ("done", "已完成", "done"),
    ("cancelled", "已取消", "cancelled"),
    (
        "choose_one",
        "请至少选择一项政策",
        "Choose at least one policy",
    ),
    ("administration", "系统管理", "Administration"),
    ("policies", "政策库", "Policies"),
    ("analytics", "推送分析", "Analytics"),
    (
        "analytics_help",
        "每项已推送政策的阅读率与有用率。",
        "Read and useful rates of each pushed policy.",
    ),
    ("read_rate", "阅读率", "Read rate"),
    ("useful_rate", "有用率", "Useful rate"),
    ("dead_letters", "死信队列", "Dead letter"),
    ("attempts", "尝试次数", "Attempts"),
    ("last_error", "最近错误", "Last error"),
    ("redrive", "重新投递", "Re-drive"),
    ("dead_cause", "原因", "Cause"),
    ("cause_refused", "地址被拒收", "Refused for good"),
    ("cause_retries_exhausted", "重试次数用尽", "Retries used up"),
    (
        "cause_in_doubt",
        "可能已送达，待人工确认",
        "May have arrived; waiting for a person",
    ),
    (
        "accept_in_doubt",
        "我知道收件人可能收到第二份",
        "I accept the recipient may get a second copy",
    ),
    ("audit_log", "审计日志", "Audit log"),
    ("action", "操作", "Action"),
    ("entity", "对象", "Entity"),
    ("edit_conditions", "编辑适用条件", "Edit conditions"),
    ("condition_tree", "适用条件", "Eligibility conditions"),
    (
        "condition_help",
        "用构建器编辑条件：all（全部满足）、any（任一满足）、not（不满足）组合 {字段, 运算, 值}；也可展开 JSON 直接编辑。输入时即由服务器校验。",
        "Edit the conditions with the builder: all / any / not groups of {field, op, value}, or open the JSON. The server checks them as you type.",
    ),
    ("fields_available", "可用字段", "Fields"),
    ("save_publish", "保存并发布", "Save and publish"),
    ("condition_valid", "条件有效", "The conditions are valid"),
    ("bad_json", "JSON 格式错误", "Malformed JSON"),
    ("audience_now", "当前符合条件", "Eligible now"),
    ("schedules", "定时任务", "Schedules"),
    ("new_schedule", "新建定时任务", "New schedule"),
    ("job", "任务", "Job"),
    ("enabled", "启用", "Enabled"),
    ("last_run", "最近运行", "Last run"),
    ("delete", "删除", "Delete"),
    (
        "cron_help",
        "6 段，秒在前，北京时间；如每天 9 点为 0 0 9 * * *",
        "six fields, seconds first, Beijing time; 09:00 daily is 0 0 9 * * *",
    ),
    ("deadline_reminder", "申报截止提醒", "Deadline reminder"),
    (
        "days_before",
        "提前天数（截止提醒）",
        "Days before (deadline reminder)",
    ),
    (
        "pushes_per_day",
        "每日推送次数（近 30 天）",
        "Pushes per day (last 30 days)",
    ),
    ("delivered", "已送达", "Delivered"),
    ("taxonomy", "标签体系", "Tag taxonomy"),
    (
        "upload_list",
        "或上传名单文件（CSV 或文本，每行一个信用代码）",
        "or upload a list (CSV or text, one credit code per line)",
    ),
    ("new_policy", "新建政策草稿", "New policy draft"),
    ("dimension", "维度", "Dimension"),
    ("code", "代码", "Code"),
    ("merge_into", "合并到（代码）", "Merge into (code)"),
    ("merge", "合并", "Merge"),
    (
        "merge_help",
        "合并或调整标签权重前先试算：受影响政策的适用范围变化，以及前 5,000 个画像的前 10 名排名变化。标签权重放大带有该标签的政策在该维度上的评分项（默认 1）。",
        "Dry-run a merge or a tag weight first: how the affected policies' audiences and the top 10 of the first 5,000 profiles would change. A tag's weight scales the score term of the policies carrying it (default 1).",
    ),
    ("tag_weight", "标签权重", "Tag weight"),
    ("weights", "评分权重", "Score weights"),
    (
        "weights_help",
        "修改权重后先试算：对比前 5,000 个画像的强相关排名（前 10 位）会如何变化，确认后再保存。",
        "Change the weights, then run a dry run: how the top 10 eligible rankings of the first 5,000 profiles would change. Save when satisfied.",
    ),
    ("dry_run", "试算影响", "Dry run"),
    (
        "changed",
        "排名变化的画像",
        "Profiles whose ranking changes",
    ),
    ("mean_change", "匹配度平均变化", "Mean score change"),
    ("rising", "上升的政策", "Policies rising"),
    ("falling", "下降的政策", "Policies falling"),
    ("policy_title", "政策标题", "Title"),
    ("summary", "摘要", "Summary"),
    ("one_per_line", "每行一条", "one per line"),
    ("qa", "问答", "Q&A"),
    (
        "qa_help",
        "每行“问题 | 回答”",
        "one “question | answer” per line",
    ),
    ("benefit_items", "政策事项", "Benefit items"),
    ("lifecycle", "状态（生命周期）", "Lifecycle status"),
    ("add_condition", "条件", "condition"),
    ("add_group", "条件组", "group"),
    ("remove", "删除", "Remove"),
    (
        "per_channel",
        "各渠道送达与阅读",
        "Delivered and read per channel",
    ),
    ("library", "政策库", "Policy library"),
    (
        "library_description",
        "已发布的惠企利民政策：全文检索，按地区、部门、主题、对象筛选，查看申报指南。",
        "Published policies for enterprises and citizens: full-text search, filters by region, department, topic and audience, how to apply.",
    ),
    ("calendar", "政策月历", "Policy calendar"),
    (
        "calendar_description",
        "各项政策申报的开始与截止日期，可订阅到日历。",
        "When applications for each policy open and close; subscribe in your calendar.",
    ),
    ("calculator", "政策计算器", "Policy calculator"),
    (
        "calculator_description",
        "填写您知道的信息，即可查看可能享受的政策、预计金额和还需补充的信息。不保存任何数据。",
        "Enter what you know to see the policies you may get, estimated amounts and what else to fill in. Nothing is stored.",
    ),
    (
        "calculator_help",
        "所有项目均可留空：填得越多，结果越准确。页面不保存您填写的任何内容。",
        "Every field may stay empty: the more you fill in, the more precise the result. Nothing you enter is stored.",
    ),
    ("kind", "主体类型", "Kind"),
    ("enterprise", "企业", "Enterprise"),
    ("citizen", "个人", "Citizen"),
    ("industry", "所属行业", "Industry"),
    ("employees", "从业人数", "Employees"),
    (
        "revenue",
        "年营业收入（万元）",
        "Annual revenue (10,000 yuan)",
    ),
    ("founded_year", "成立年份", "Year founded"),
    ("certificates", "已获资质", "Certificates held"),
    ("age", "年龄", "Age"),
    ("gender", "性别", "Gender"),
    ("residence", "常住地", "Place of residence"),
    ("hukou", "户籍所在地", "Household registration (hukou)"),
    ("employment_status", "就业状态", "Employment"),
    ("household", "家庭情况", "Household circumstances"),
    ("unknown", "不清楚", "Not sure"),
    ("calculate", "开始测算", "Calculate"),
    ("result", "测算结果", "Result"),
    (
        "eligible_help",
        "按您填写的信息，符合全部条件。",
        "You meet every condition, going by what you entered.",
    ),
    (
        "undetermined_help",
        "还缺少部分信息，补充后才能确定。",
        "Some information is missing; add it to be sure.",
    ),
    ("near_miss_help", "只差一个条件。", "One condition short."),
    ("estimated", "预计可享", "Estimated"),
    ("fill_next", "建议补充以下信息", "Fill in next"),
    ("settles_count", "可确定的政策数", "policies it settles"),
    ("none_in_group", "暂无", "None"),
    ("department", "发文部门", "Department"),
    ("topic", "主题", "Topic"),
    ("audience", "适用对象", "Audience"),
    ("level", "层级", "Level"),
    ("level_national", "国家级", "National"),
    ("level_provincial", "省级", "Provincial"),
    ("level_municipal", "市级", "Municipal"),
    ("level_district", "区县级", "District"),
    ("open_now", "申报中", "Open for applications"),
    ("closing_soon", "即将截止", "Closing soon"),
    ("application_status", "申报状态", "Applications"),
    ("results_total", "条政策", "policies"),
    ("clear_filters", "清除筛选", "Clear filters"),
    ("previous", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("page_of", "页", "page"),
    ("doc_number", "文号", "Document number"),
    ("published_on", "发布日期", "Published"),
    ("valid", "有效期", "Valid"),
    ("full_text", "政策原文", "Full text"),
    ("targets", "适用对象", "Who it is for"),
    ("conditions", "申报条件", "Conditions"),
    ("materials", "申报材料", "Materials"),
    ("channel", "办理渠道", "Channel"),
    ("process", "办理流程", "Process"),
    ("online", "网上办理", "Apply online"),
    ("offline_address", "线下办理地址", "Office address"),
    ("time_limit", "办理时限", "Time limit"),
    ("window", "申报时间", "Application window"),
    (
        "add_to_calendar",
        "加入日历（iCal）",
        "Add to calendar (iCal)",
    ),
    ("related", "相关政策", "Related policies"),
    (
        "try_calculator",
        "用政策计算器测一测",
        "Try the policy calculator",
    ),
    (
        "not_published",
        "未发布（仅工作人员可见）",
        "Not published (staff only)",
    ),
    ("opens", "开始申报", "Opens"),
    ("closes", "申报截止", "Closes"),
    (
        "no_events",
        "本月没有申报开始或截止的政策。",
        "No application opens or closes this month.",
    ),
    ("too_many", "请求过于频繁", "Too many requests"),
    ("menu", "导航", "Menu"),
    ("my_policies", "我的政策", "My policies"),
    (
        "my_policies_help",
        "按您画像的当前信息实时匹配，不只是已推送的政策。",
        "Matched live on your profile as it is now, not only what was pushed to you.",
    ),
    (
        "all_policies",
        "查看全部可享政策",
        "See every policy you may get",
    ),
    ("settle_with", "补充：", "Add: "),
    ("choose", "请选择", "Choose"),
    ("policy_page", "查看政策详情", "See the policy"),
    ("yes", "是", "Yes"),
    ("no", "否", "No"),
    (
        "fact_not_editable",
        "该项信息不能在此修改，如需更正请联系服务中心",
        "this item cannot be changed here; ask the service centre to correct it",
    ),
];

/// Every word of `lang`, for templates (`t.inbox`, `t[state]`).
pub fn dictionary(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    WORDS
        .iter()
        .map(|(key, zh, en)| (*key, if lang == Lang::En { *en } else { *zh }))
        .collect()
}

/// One word; the key itself when unknown, so a missing word shows rather than breaks the page.
pub fn lookup(lang: Lang, key: &str) -> &'static str {
    WORDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("?", |(_, zh, en)| if lang == Lang::En { en } else { zh })
}
