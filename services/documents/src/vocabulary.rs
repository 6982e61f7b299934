//! The dictionaries the extractor reads names with, built from the project's own taxonomies:
//! regions (GB/T 2260, profiles::codes) by full and short name, industries (GB/T 4754-2017
//! sections and divisions) by name and common variants, certification kinds and household flags
//! by their Chinese names plus the aliases policy text uses, and the citizen facts (education,
//! employment status, veteran) as phrase tables.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use profiles::codes::{industry_divisions, industry_sections, known_regions};

/// Administrative suffixes removed to get a region's short name (江西省 → 江西).
const REGION_SUFFIXES: &[&str] = &[
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "市辖区",
    "省",
    "市",
];

/// One-character province abbreviations, as 文号 prefixes write them (京政办发 → 北京).
const PROVINCE_ABBREVIATIONS: &[(char, &str)] = &[
    ('京', "110000"),
    ('津', "120000"),
    ('冀', "130000"),
    ('晋', "140000"),
    ('蒙', "150000"),
    ('辽', "210000"),
    ('吉', "220000"),
    ('黑', "230000"),
    ('沪', "310000"),
    ('苏', "320000"),
    ('浙', "330000"),
    ('皖', "340000"),
    ('闽', "350000"),
    ('赣', "360000"),
    ('鲁', "370000"),
    ('豫', "410000"),
    ('鄂', "420000"),
    ('湘', "430000"),
    ('粤', "440000"),
    ('桂', "450000"),
    ('琼', "460000"),
    ('渝', "500000"),
    ('川', "510000"),
    ('黔', "520000"),
    ('滇', "530000"),
    ('藏', "540000"),
    ('陕', "610000"),
    ('甘', "620000"),
    ('青', "630000"),
    ('宁', "640000"),
    ('新', "650000"),
];

/// The province code a 文号's first character abbreviates.
pub fn province_by_abbreviation(c: char) -> Option<&'static str> {
    PROVINCE_ABBREVIATIONS
        .iter()
        .find(|(a, _)| *a == c)
        .map(|(_, code)| *code)
}

/// Region names (full and short) and the codes they name: more than one for a name two regions
/// share (朝阳区 of 北京 and of 长春), resolved by the name before it.
static REGION_NAMES: LazyLock<BTreeMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    let mut names: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    let mut add = |name: &'static str, code: &'static str| {
        if name.chars().count() < 2 {
            return;
        }
        let codes = names.entry(name).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    };
    for region in known_regions() {
        if region.name_zh.contains("市辖区") {
            continue;
        }
        add(region.name_zh, region.code);
        for suffix in REGION_SUFFIXES {
            if let Some(short) = region.name_zh.strip_suffix(suffix) {
                add(short, region.code);
                break;
            }
        }
    }
    names
});

/// The full name of a province from its short name (江西 → 江西省).
pub fn province_by_short_name(short: &str) -> Option<&'static str> {
    let [code] = REGION_NAMES.get(short)?.as_slice() else {
        return None;
    };
    if !code.ends_with("0000") || known_regions().iter().any(|r| r.name_zh == short) {
        return None;
    }
    known_regions()
        .iter()
        .find(|r| r.code == *code)
        .map(|r| r.name_zh)
}

/// The longest region name at the start of `s`: the codes it names and its length.
fn names_at(s: &str) -> Option<(&'static [&'static str], usize)> {
    let mut best: Option<(&'static [&'static str], usize)> = None;
    for (name, codes) in REGION_NAMES.iter() {
        if s.starts_with(name) && best.is_none_or(|(_, len)| name.len() > len) {
            best = Some((codes.as_slice(), name.len()));
        }
    }
    best
}

/// The regions named one after another at the start of `s` (北京市海淀区, 北京朝阳区): the most
/// specific code and the length read. A name two regions share counts only where the name before
/// it decides between them; `None` when the first name is unknown or undecided.
pub fn region_at(s: &str) -> Option<(&'static str, usize)> {
    let mut at = 0;
    let mut code: Option<&'static str> = None;
    while let Some((candidates, len)) = names_at(&s[at..]) {
        let within: Vec<&&str> = match code {
            Some(parent) => candidates
                .iter()
                .filter(|c| profiles::region_within(c, parent))
                .collect(),
            None => candidates.iter().collect(),
        };
        match within.as_slice() {
            [one] => {
                code = Some(one);
                at += len;
            }
            _ if code.is_some() => break,
            _ => return None,
        }
    }
    code.map(|code| (code, at))
}

/// The region code of an organ or place name that starts with a region (北京市人民政府 → 110000).
pub fn region_of_name(name: &str) -> Option<&'static str> {
    region_at(name).map(|(code, _)| code)
}

/// Industry names and variants → GB/T 4754-2017 code, longest names first.
static INDUSTRY_NAMES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |name: String, code: String| {
        // A section and its only division share a name (房地产业): the section is the wider code.
        names.entry(name).or_insert(code);
    };
    for section in industry_sections() {
        add(section.name_zh.to_owned(), section.code.to_owned());
        add(section.name_zh.replace('、', ""), section.code.to_owned());
    }
    for division in industry_divisions() {
        let name = division.name_zh;
        add(name.to_owned(), division.code.clone());
        // 烟草制品业 is also written 烟草制造业 / 烟草业; 纺织业 stays as is.
        for ending in ["制品业", "制造业", "加工业"] {
            if let Some(core) = name.strip_suffix(ending)
                && core.chars().count() >= 2
                && !core.contains('、')
            {
                for variant in ["制品业", "制造业", "加工业", "业"] {
                    add(format!("{core}{variant}"), division.code.clone());
                }
            }
        }
    }
    let mut list: Vec<(String, String)> = names.into_iter().collect();
    list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    list
});

/// Every industry name in `text`: byte start, end and code; overlapping names keep the longest.
pub fn industries_in(text: &str) -> Vec<(usize, usize, String)> {
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for (name, code) in INDUSTRY_NAMES.iter() {
        // A bare word such as 教育 or 农业 is only an industry where the text speaks of 行业.
        let industry_like = name.ends_with('业');
        for (start, _) in text.match_indices(name.as_str()) {
            let end = start + name.len();
            if found.iter().any(|(s, e, _)| start < *e && *s < end) {
                continue;
            }
            if !industry_like && !around(text, start, end, 20).contains("行业") {
                continue;
            }
            found.push((start, end, code.clone()));
        }
    }
    found.sort_by_key(|(start, _, _)| *start);
    found
}

/// `text[start..end]` widened by up to `chars` characters on each side.
pub fn around(text: &str, start: usize, end: usize, chars: usize) -> &str {
    let from = text[..start]
        .char_indices()
        .rev()
        .take(chars)
        .last()
        .map_or(start, |(i, _)| i);
    let to = text[end..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| end + i);
    &text[from..to]
}

/// Certification kinds by the names policy text uses, longest first.
pub const CERTIFICATIONS: &[(&str, &str)] = &[
    ("专精特新“小巨人”企业", "little_giant"),
    ("专精特新\"小巨人\"企业", "little_giant"),
    ("专精特新小巨人企业", "little_giant"),
    ("“小巨人”企业", "little_giant"),
    ("小巨人企业", "little_giant"),
    ("专精特新中小企业", "specialized_new"),
    ("专精特新企业", "specialized_new"),
    ("国家高新技术企业", "high_tech"),
    ("高新技术企业", "high_tech"),
    ("科技型中小企业", "tech_sme"),
    ("创新型中小企业", "innovative_sme"),
];

/// Household circumstances by their wording (KNOWN_HOUSEHOLD_FLAGS of profiles plus aliases).
pub const HOUSEHOLD_PHRASES: &[(&str, &str)] = &[
    ("最低生活保障", "subsistence"),
    ("低保家庭", "subsistence"),
    ("低保对象", "subsistence"),
    ("低保户", "subsistence"),
    ("低收入家庭", "low_income"),
    ("低收入人口", "low_income"),
    ("低收入老年人", "low_income"),
    ("低收入", "low_income"),
    ("单亲家庭", "single_parent"),
    ("独居老人", "elderly_living_alone"),
    ("独居老年人", "elderly_living_alone"),
    ("多子女家庭", "multi_child"),
    ("军人军属", "veteran_family"),
    ("烈士遗属", "veteran_family"),
    ("退役军人家庭", "veteran_family"),
];

/// Employment status by its wording.
pub const EMPLOYMENT_PHRASES: &[(&str, &str)] = &[
    ("全日制在校生", "student"),
    ("在校生", "student"),
    ("在校学生", "student"),
    ("登记失业人员", "unemployed"),
    ("登记失业", "unemployed"),
    ("失业人员", "unemployed"),
    ("退休人员", "retired"),
    ("离退休人员", "retired"),
    ("灵活就业人员", "flexible"),
    ("灵活就业", "flexible"),
    ("应届高校毕业生", "graduate"),
    ("应届毕业生", "graduate"),
];

/// Education levels in order, with their names as policy text writes them.
pub const EDUCATION_LEVELS: &[(&[&str], &str)] = &[
    (&["小学"], "primary"),
    (&["初中"], "junior_high"),
    (&["高中", "普通高中"], "senior_high"),
    (&["中专", "中职", "技工院校"], "vocational"),
    (&["大专", "专科", "高职"], "associate"),
    (&["本科", "大学本科", "学士"], "bachelor"),
    (&["硕士研究生", "硕士", "研究生"], "master"),
    (&["博士研究生", "博士"], "doctorate"),
];

/// Kinds of unit a policy may name as its subjects, longest first (the suggested values of an
/// `attr.entity_type` field).
pub const UNIT_KINDS: &[(&str, &str)] = &[
    ("民办非企业单位", "social_service_agency"),
    ("农民专业合作社", "cooperative"),
    ("社会服务机构", "social_service_agency"),
    ("会计师事务所", "accounting_firm"),
    ("律师事务所", "law_firm"),
    ("个体工商户", "individual_business"),
    ("社会组织", "social_organization"),
    ("社会团体", "social_group"),
    ("事业单位", "public_institution"),
    ("基金会", "foundation"),
    ("企业", "enterprise"),
];

/// Enterprise size classes as written; 小型微利企业 is a tax label, not a size class.
pub const SIZE_PHRASES: &[(&str, &[&str])] = &[
    ("中小微企业", &["medium", "small", "micro"]),
    ("小微企业", &["small", "micro"]),
    ("中小企业", &["medium", "small"]),
    ("大型企业", &["large"]),
    ("中型企业", &["medium"]),
    ("小型企业", &["small"]),
    ("微型企业", &["micro"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_resolve_by_full_and_short_name() {
        assert_eq!(region_at("江西户籍"), Some(("360000", "江西".len())));
        assert_eq!(
            region_at("北京市海淀区的企业"),
            Some(("110108", "北京市海淀区".len()))
        );
        assert_eq!(
            region_at("北京市朝阳区"),
            Some(("110105", "北京市朝阳区".len()))
        );
        assert_eq!(
            region_at("长春市朝阳区"),
            Some(("220104", "长春市朝阳区".len()))
        );
        assert_eq!(region_at("海淀区注册"), Some(("110108", "海淀区".len())));
        // Two 朝阳区 exist (北京, 长春): not resolved without context.
        assert_eq!(region_at("朝阳区"), None);
        assert_eq!(province_by_short_name("江西"), Some("江西省"));
        assert_eq!(province_by_short_name("三门峡"), None);
        assert_eq!(province_by_abbreviation('京'), Some("110000"));
    }

    #[test]
    fn industries_resolve_with_variants() {
        let text = "1.烟草制造业。2.住宿和餐饮业。3.批发和零售业。4.房地产业。6.娱乐业。";
        let codes: Vec<String> = industries_in(text).into_iter().map(|(_, _, c)| c).collect();
        assert_eq!(codes, ["C16", "H", "F", "K", "R90"]);
        assert!(industries_in("教育部门").is_empty());
        assert_eq!(industries_in("教育行业")[0].2, "P");
    }
}
