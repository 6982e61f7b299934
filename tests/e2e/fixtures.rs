//! Request bodies the tests start from: valid, realistic, and easy to break one field at a time.

use serde_json::{Value, json};

/// 统一社会信用代码 with correct check characters (GB 32100-2015), fictitious enterprises.
pub const CREDIT_CODE_HAIDIAN: &str = "91110108MA01AB2C3T";
pub const CREDIT_CODE_CHAOYANG: &str = "91110105MA00XY7K1N";
/// 身份证号 with a correct check digit (GB 11643), fictitious people.
pub const ID_NUMBER_1990: &str = "110105199003071239";

pub fn policy() -> Value {
    json!({
        "doc_number": "京科发〔2026〕1号",
        "title": "关于支持中关村科技型中小企业加大研发投入的若干措施",
        "issuing_departments": ["北京市科学技术委员会", "北京市财政局"],
        "region_code": "110000",
        "level": "municipal",
        "written_on": "2026-03-01",
        "published_on": "2026-03-10",
        "valid_from": "2026-03-10",
        "valid_until": "2028-03-09",
        "status": "published",
        "summary": "对研发投入增长的科技型中小企业给予后补助。",
        "full_text": "第一条 为鼓励企业加大研发投入，制定本措施。",
        "topics": ["rnd", "finance"],
        "interpretation": {"key_points": ["研发投入同比增长即可申报", "最高补助50万元"]},
        "qa": [{"question": "个体工商户可以申报吗？", "answer": "不可以，须为企业法人。"}],
        "benefit_items": [{
            "name": "研发投入后补助",
            "targets": "本市科技型中小企业",
            "conditions": "上年度研发投入同比增长",
            "materials": ["申请表", "研发费用专项审计报告"],
            "channel": "线上申报",
            "process": "企业申报—区级初审—市级复核—资金拨付",
            "online_url": "https://zhengce.example.gov.cn/apply/rd",
            "offline_address": "北京市海淀区政务服务中心",
            "time_limit": "20个工作日",
            "hotline": "010-12345678",
            "window_opens": "2026-10-01",
            "window_closes": "2026-12-31",
            "amount": {"kind": "fixed", "value": 50.0}
        }],
        "applicability": {
            "audiences": ["sme"],
            "tags": {"region": ["110000"], "topic": ["rnd"]},
            "condition": {"all": [
                {"field": "region", "op": "within", "value": "110000", "clause": "第二条"},
                {"field": "employees", "op": "le", "value": 500}
            ]}
        }
    })
}

pub fn enterprise(credit_code: &str) -> Value {
    json!({
        "kind": "enterprise",
        "name": "北京智芯算力科技有限公司",
        "credit_code": credit_code,
        "region": "110108",
        "industry": "I6513",
        "ownership": "private",
        "founded_on": "2019-04-12",
        "registered_capital": 1000,
        "employees": 85,
        "revenue": 4200,
        "total_assets": 3100,
        "taxable_income": 180,
        "certifications": [{"kind": "high_tech", "obtained_on": "2024-11-30", "expires_on": "2027-11-29"}],
        "interests": ["tax", "rnd"],
        "contacts": [{"name": "王敏", "email": "wangmin@example.com", "role": "finance"}],
        "attributes": {}
    })
}

pub fn citizen(id_number: &str) -> Value {
    json!({
        "kind": "citizen",
        "name": "李华",
        "id_number": id_number,
        "hukou_region": "110105",
        "residence_region": "110105",
        "education": "bachelor",
        "employment_status": "unemployed",
        "household": ["low_income"],
        "interests": ["employment"],
        "contacts": [{"name": "李华", "email": "lihua@example.com", "role": "self"}],
        "attributes": {}
    })
}
