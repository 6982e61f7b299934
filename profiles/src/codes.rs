//! National classification codes: GB/T 2260 administrative region codes and GB/T 4754-2017
//! industry codes, their validation, their hierarchy tests, and the built-in name tables (the
//! provincial-level divisions, the demo regions, the industry sections A–T).

use crate::error::{Rule, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::RangeInclusive;

/// A six-digit GB/T 2260 region code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Accepts six digits under one of the 34 provincial-level prefixes; a code whose prefecture
    /// part is `00` must also have county part `00` (there is no county directly under nothing).
    pub fn parse(code: &str) -> Result<Self, ValidationErrors> {
        let code = code.trim();
        if is_valid_region(code) {
            Ok(Self(code.to_owned()))
        } else {
            Err(ValidationErrors::single(
                Rule::RegionCode,
                format!("“{code}”不是有效的行政区划代码（GB/T 2260，6 位数字）"),
                format!("“{code}” is not a valid GB/T 2260 region code (6 digits)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Chinese name, for codes in the built-in table.
    pub fn name(&self) -> Option<&'static str> {
        known_region(&self.0).map(|region| region.name_zh)
    }
}

/// Whether `code` is a region code by the rules of [`RegionCode::parse`].
pub fn is_valid_region(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 6
        && bytes.iter().all(u8::is_ascii_digit)
        && known_region(&format!("{}0000", &code[..2])).is_some()
        && (&code[2..4] != "00" || &code[4..6] == "00")
}

impl TryFrom<String> for RegionCode {
    type Error = ValidationErrors;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The part of a region code that its descendants share: the code without its trailing `00`
/// pairs (`110000` → `11`, `110100` → `1101`, `110108` → `110108`).
pub fn region_prefix(code: &str) -> &str {
    let mut prefix = code;
    while let Some(shorter) = prefix.strip_suffix("00") {
        prefix = shorter;
    }
    prefix
}

/// Whether `code` lies within `ancestor`: the ancestor's [`region_prefix`] is a prefix of `code`.
/// Every code is within itself.
pub fn region_within(code: &str, ancestor: &str) -> bool {
    code.starts_with(region_prefix(ancestor))
}

/// The code one level up (`110108` → `110100` → `110000`), or `None` for a province.
pub fn region_parent(code: &str) -> Option<String> {
    let prefix = region_prefix(code);
    (prefix.len() > 2 && prefix.len() <= 6).then(|| format!("{:0<6}", &prefix[..prefix.len() - 2]))
}

/// A region of the built-in table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

const fn region(code: &'static str, name_zh: &'static str, name_en: &'static str) -> Region {
    Region {
        code,
        name_zh,
        name_en,
    }
}

/// The 34 provincial-level divisions and the demo regions, sorted by code.
const REGIONS: &[Region] = &[
    region("110000", "北京市", "Beijing"),
    region("110100", "北京市市辖区", "Beijing municipal districts"),
    region("110101", "东城区", "Dongcheng District"),
    region("110102", "西城区", "Xicheng District"),
    region("110105", "朝阳区", "Chaoyang District"),
    region("110106", "丰台区", "Fengtai District"),
    region("110107", "石景山区", "Shijingshan District"),
    region("110108", "海淀区", "Haidian District"),
    region("110109", "门头沟区", "Mentougou District"),
    region("110111", "房山区", "Fangshan District"),
    region("110112", "通州区", "Tongzhou District"),
    region("110113", "顺义区", "Shunyi District"),
    region("110114", "昌平区", "Changping District"),
    region("110115", "大兴区", "Daxing District"),
    region("110116", "怀柔区", "Huairou District"),
    region("110117", "平谷区", "Pinggu District"),
    region("110118", "密云区", "Miyun District"),
    region("110119", "延庆区", "Yanqing District"),
    region("120000", "天津市", "Tianjin"),
    region("130000", "河北省", "Hebei Province"),
    region("140000", "山西省", "Shanxi Province"),
    region("150000", "内蒙古自治区", "Inner Mongolia Autonomous Region"),
    region("210000", "辽宁省", "Liaoning Province"),
    region("220000", "吉林省", "Jilin Province"),
    region("220100", "长春市", "Changchun"),
    region("220102", "南关区", "Nanguan District"),
    region("220104", "朝阳区", "Chaoyang District"),
    region("220105", "二道区", "Erdao District"),
    region("220106", "绿园区", "Lüyuan District"),
    region("230000", "黑龙江省", "Heilongjiang Province"),
    region("310000", "上海市", "Shanghai"),
    region("320000", "江苏省", "Jiangsu Province"),
    region("330000", "浙江省", "Zhejiang Province"),
    region("340000", "安徽省", "Anhui Province"),
    region("350000", "福建省", "Fujian Province"),
    region("360000", "江西省", "Jiangxi Province"),
    region("370000", "山东省", "Shandong Province"),
    region("410000", "河南省", "Henan Province"),
    region("420000", "湖北省", "Hubei Province"),
    region("430000", "湖南省", "Hunan Province"),
    region("440000", "广东省", "Guangdong Province"),
    region(
        "450000",
        "广西壮族自治区",
        "Guangxi Zhuang Autonomous Region",
    ),
    region("460000", "海南省", "Hainan Province"),
    region("500000", "重庆市", "Chongqing"),
    region("510000", "四川省", "Sichuan Province"),
    region("520000", "贵州省", "Guizhou Province"),
    region("530000", "云南省", "Yunnan Province"),
    region("540000", "西藏自治区", "Xizang Autonomous Region"),
    region("610000", "陕西省", "Shaanxi Province"),
    region("620000", "甘肃省", "Gansu Province"),
    region("630000", "青海省", "Qinghai Province"),
    region("640000", "宁夏回族自治区", "Ningxia Hui Autonomous Region"),
    region(
        "650000",
        "新疆维吾尔自治区",
        "Xinjiang Uygur Autonomous Region",
    ),
    region("710000", "台湾省", "Taiwan Province"),
    region(
        "810000",
        "香港特别行政区",
        "Hong Kong Special Administrative Region",
    ),
    region(
        "820000",
        "澳门特别行政区",
        "Macao Special Administrative Region",
    ),
];

/// The built-in regions, sorted by code.
pub fn known_regions() -> &'static [Region] {
    REGIONS
}

/// The built-in entry for a code, for its name.
pub fn known_region(code: &str) -> Option<&'static Region> {
    REGIONS
        .binary_search_by(|known| known.code.cmp(code))
        .ok()
        .map(|index| &REGIONS[index])
}

/// A GB/T 4754-2017 section (门类) and the divisions (大类) it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndustrySection {
    /// The section letter, itself the canonical industry code of the section.
    pub code: &'static str,
    pub divisions: RangeInclusive<u8>,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

const fn section(
    code: &'static str,
    first: u8,
    last: u8,
    name_zh: &'static str,
    name_en: &'static str,
) -> IndustrySection {
    IndustrySection {
        code,
        divisions: first..=last,
        name_zh,
        name_en,
    }
}

const SECTIONS: &[IndustrySection] = &[
    section(
        "A",
        1,
        5,
        "农、林、牧、渔业",
        "Agriculture, forestry, animal husbandry and fishery",
    ),
    section("B", 6, 12, "采矿业", "Mining"),
    section("C", 13, 43, "制造业", "Manufacturing"),
    section(
        "D",
        44,
        46,
        "电力、热力、燃气及水生产和供应业",
        "Electricity, heat, gas and water production and supply",
    ),
    section("E", 47, 50, "建筑业", "Construction"),
    section("F", 51, 52, "批发和零售业", "Wholesale and retail trade"),
    section(
        "G",
        53,
        60,
        "交通运输、仓储和邮政业",
        "Transport, storage and postal services",
    ),
    section("H", 61, 62, "住宿和餐饮业", "Accommodation and catering"),
    section(
        "I",
        63,
        65,
        "信息传输、软件和信息技术服务业",
        "Information transmission, software and IT services",
    ),
    section("J", 66, 69, "金融业", "Finance"),
    section("K", 70, 70, "房地产业", "Real estate"),
    section(
        "L",
        71,
        72,
        "租赁和商务服务业",
        "Leasing and business services",
    ),
    section(
        "M",
        73,
        75,
        "科学研究和技术服务业",
        "Scientific research and technical services",
    ),
    section(
        "N",
        76,
        79,
        "水利、环境和公共设施管理业",
        "Water conservancy, environment and public facilities management",
    ),
    section(
        "O",
        80,
        82,
        "居民服务、修理和其他服务业",
        "Resident services, repair and other services",
    ),
    section("P", 83, 83, "教育", "Education"),
    section("Q", 84, 85, "卫生和社会工作", "Health and social work"),
    section(
        "R",
        86,
        90,
        "文化、体育和娱乐业",
        "Culture, sports and entertainment",
    ),
    section(
        "S",
        91,
        96,
        "公共管理、社会保障和社会组织",
        "Public administration, social security and social organisations",
    ),
    section("T", 97, 97, "国际组织", "International organisations"),
];

/// The sections A–T.
pub fn industry_sections() -> &'static [IndustrySection] {
    SECTIONS
}

/// GB/T 4754-2017 divisions: number, Chinese and English name.
const DIVISIONS: &[(u8, &str, &str)] = &[
    (1, "农业", "Agriculture"),
    (2, "林业", "Forestry"),
    (3, "畜牧业", "Animal husbandry"),
    (4, "渔业", "Fishery"),
    (
        5,
        "农、林、牧、渔专业及辅助性活动",
        "Support activities for agriculture, forestry, husbandry and fishery",
    ),
    (6, "煤炭开采和洗选业", "Coal mining and washing"),
    (7, "石油和天然气开采业", "Oil and natural gas extraction"),
    (8, "黑色金属矿采选业", "Mining of ferrous metal ores"),
    (9, "有色金属矿采选业", "Mining of non-ferrous metal ores"),
    (10, "非金属矿采选业", "Mining of non-metallic minerals"),
    (11, "开采专业及辅助性活动", "Support activities for mining"),
    (12, "其他采矿业", "Other mining"),
    (
        13,
        "农副食品加工业",
        "Processing of agricultural and sideline foods",
    ),
    (14, "食品制造业", "Food manufacturing"),
    (
        15,
        "酒、饮料和精制茶制造业",
        "Liquor, beverages and refined tea",
    ),
    (16, "烟草制品业", "Tobacco products"),
    (17, "纺织业", "Textiles"),
    (18, "纺织服装、服饰业", "Textile garments and apparel"),
    (
        19,
        "皮革、毛皮、羽毛及其制品和制鞋业",
        "Leather, fur, feathers and footwear",
    ),
    (
        20,
        "木材加工和木、竹、藤、棕、草制品业",
        "Wood processing and wood, bamboo, rattan, palm and straw products",
    ),
    (21, "家具制造业", "Furniture"),
    (22, "造纸和纸制品业", "Paper and paper products"),
    (
        23,
        "印刷和记录媒介复制业",
        "Printing and reproduction of recorded media",
    ),
    (
        24,
        "文教、工美、体育和娱乐用品制造业",
        "Articles for culture, education, arts and crafts, sports and entertainment",
    ),
    (
        25,
        "石油、煤炭及其他燃料加工业",
        "Processing of petroleum, coal and other fuels",
    ),
    (
        26,
        "化学原料和化学制品制造业",
        "Chemical raw materials and chemical products",
    ),
    (27, "医药制造业", "Medicines"),
    (28, "化学纤维制造业", "Chemical fibres"),
    (29, "橡胶和塑料制品业", "Rubber and plastic products"),
    (30, "非金属矿物制品业", "Non-metallic mineral products"),
    (
        31,
        "黑色金属冶炼和压延加工业",
        "Smelting and pressing of ferrous metals",
    ),
    (
        32,
        "有色金属冶炼和压延加工业",
        "Smelting and pressing of non-ferrous metals",
    ),
    (33, "金属制品业", "Metal products"),
    (34, "通用设备制造业", "General-purpose machinery"),
    (35, "专用设备制造业", "Special-purpose machinery"),
    (36, "汽车制造业", "Automobiles"),
    (
        37,
        "铁路、船舶、航空航天和其他运输设备制造业",
        "Railway, ship, aerospace and other transport equipment",
    ),
    (
        38,
        "电气机械和器材制造业",
        "Electrical machinery and equipment",
    ),
    (
        39,
        "计算机、通信和其他电子设备制造业",
        "Computers, communication and other electronic equipment",
    ),
    (40, "仪器仪表制造业", "Instruments and meters"),
    (41, "其他制造业", "Other manufacturing"),
    (
        42,
        "废弃资源综合利用业",
        "Comprehensive use of waste resources",
    ),
    (
        43,
        "金属制品、机械和设备修理业",
        "Repair of metal products, machinery and equipment",
    ),
    (
        44,
        "电力、热力生产和供应业",
        "Production and supply of electricity and heat",
    ),
    (45, "燃气生产和供应业", "Production and supply of gas"),
    (46, "水的生产和供应业", "Production and supply of water"),
    (47, "房屋建筑业", "Building construction"),
    (48, "土木工程建筑业", "Civil engineering"),
    (49, "建筑安装业", "Construction installation"),
    (
        50,
        "建筑装饰、装修和其他建筑业",
        "Building decoration, renovation and other construction",
    ),
    (51, "批发业", "Wholesale"),
    (52, "零售业", "Retail"),
    (53, "铁路运输业", "Rail transport"),
    (54, "道路运输业", "Road transport"),
    (55, "水上运输业", "Water transport"),
    (56, "航空运输业", "Air transport"),
    (57, "管道运输业", "Pipeline transport"),
    (
        58,
        "多式联运和运输代理业",
        "Multimodal transport and transport agency",
    ),
    (59, "装卸搬运和仓储业", "Loading, unloading and warehousing"),
    (60, "邮政业", "Postal services"),
    (61, "住宿业", "Accommodation"),
    (62, "餐饮业", "Catering"),
    (
        63,
        "电信、广播电视和卫星传输服务",
        "Telecommunications, broadcasting and satellite transmission",
    ),
    (64, "互联网和相关服务", "Internet and related services"),
    (
        65,
        "软件和信息技术服务业",
        "Software and information technology services",
    ),
    (66, "货币金融服务", "Monetary and financial services"),
    (67, "资本市场服务", "Capital market services"),
    (68, "保险业", "Insurance"),
    (69, "其他金融业", "Other financial services"),
    (70, "房地产业", "Real estate"),
    (71, "租赁业", "Leasing"),
    (72, "商务服务业", "Business services"),
    (
        73,
        "研究和试验发展",
        "Research and experimental development",
    ),
    (74, "专业技术服务业", "Professional technical services"),
    (
        75,
        "科技推广和应用服务业",
        "Technology promotion and application services",
    ),
    (76, "水利管理业", "Water conservancy management"),
    (
        77,
        "生态保护和环境治理业",
        "Ecological protection and environmental governance",
    ),
    (78, "公共设施管理业", "Public facilities management"),
    (79, "土地管理业", "Land management"),
    (80, "居民服务业", "Resident services"),
    (
        81,
        "机动车、电子产品和日用产品修理业",
        "Repair of motor vehicles, electronics and household goods",
    ),
    (82, "其他服务业", "Other services"),
    (83, "教育", "Education"),
    (84, "卫生", "Health"),
    (85, "社会工作", "Social work"),
    (86, "新闻和出版业", "News and publishing"),
    (
        87,
        "广播、电视、电影和录音制作业",
        "Radio, television, film and sound recording",
    ),
    (88, "文化艺术业", "Culture and arts"),
    (89, "体育", "Sports"),
    (90, "娱乐业", "Entertainment"),
    (
        91,
        "中国共产党机关",
        "Organs of the Communist Party of China",
    ),
    (92, "国家机构", "State organs"),
    (93, "人民政协、民主党派", "CPPCC and democratic parties"),
    (94, "社会保障", "Social security"),
    (
        95,
        "群众团体、社会团体和其他成员组织",
        "Mass organisations, social organisations and other membership organisations",
    ),
    (
        96,
        "基层群众自治组织及其他组织",
        "Grassroots self-governing and other organisations",
    ),
    (97, "国际组织", "International organisations"),
];

/// A division of GB/T 4754-2017 in canonical form (`I65`), with its names and section letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndustryDivision {
    pub code: String,
    pub section: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

/// The 97 divisions 01–97, each under its section.
pub fn industry_divisions() -> Vec<IndustryDivision> {
    DIVISIONS
        .iter()
        .filter_map(|(number, zh, en)| {
            let section = section_of_division(*number)?;
            Some(IndustryDivision {
                code: format!("{}{number:02}", section.code),
                section: section.code,
                name_zh: zh,
                name_en: en,
            })
        })
        .collect()
}

/// The section with this letter (A–T).
pub fn industry_section(letter: &str) -> Option<&'static IndustrySection> {
    SECTIONS.iter().find(|section| section.code == letter)
}

fn section_of_division(division: u8) -> Option<&'static IndustrySection> {
    SECTIONS
        .iter()
        .find(|section| section.divisions.contains(&division))
}

/// A GB/T 4754-2017 industry code in canonical form: the section letter followed by the digits of
/// the division, group or class (`I`, `I65`, `I651`, `I6513`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IndustryCode(String);

impl IndustryCode {
    /// Accepts the canonical form in either letter case, and also bare digits (`6513`) because
    /// registry extracts often omit the letter, which the division determines anyway.
    pub fn parse(code: &str) -> Result<Self, ValidationErrors> {
        let trimmed = code.trim();
        let upper = trimmed.to_ascii_uppercase();
        let (letter, digits) = match upper.split_at_checked(1) {
            Some((first, rest)) if first.bytes().all(|b| b.is_ascii_uppercase()) => {
                (Some(first), rest)
            }
            _ => (None, upper.as_str()),
        };
        let well_formed = matches!(digits.len(), 0 | 2..=4)
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (letter.is_some() || !digits.is_empty());
        let malformed = || {
            ValidationErrors::single(
                Rule::IndustryCode,
                format!(
                    "“{trimmed}”不是有效的国民经济行业代码（GB/T 4754-2017，如 I、I65、I651、I6513）"
                ),
                format!(
                    "“{trimmed}” is not a GB/T 4754-2017 industry code (like I, I65, I651, I6513)"
                ),
            )
        };
        if !well_formed {
            return Err(malformed());
        }
        let Some(division) = digits.get(..2).and_then(|d| d.parse::<u8>().ok()) else {
            return match letter.and_then(industry_section) {
                Some(_) => Ok(Self(upper)),
                None => Err(malformed()),
            };
        };
        let owner = section_of_division(division).ok_or_else(malformed)?;
        match letter {
            None => Ok(Self(format!("{}{digits}", owner.code))),
            Some(letter) if letter == owner.code => Ok(Self(upper)),
            Some(letter) => Err(ValidationErrors::single(
                Rule::IndustrySection,
                format!(
                    "大类 {division:02} 属于门类 {}（{}），不属于门类 {letter}",
                    owner.code, owner.name_zh
                ),
                format!(
                    "division {division:02} belongs to section {} ({}), not {letter}",
                    owner.code, owner.name_en
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn section(&self) -> &'static IndustrySection {
        industry_section(&self.0[..1]).expect("a parsed industry code starts with a section letter")
    }

    /// The two-digit division (大类), when the code is at least that specific.
    pub fn division(&self) -> Option<u8> {
        self.0.get(1..3)?.parse().ok()
    }

    /// The three-digit group (中类, e.g. 591), when the code is at least that specific.
    pub fn group(&self) -> Option<u16> {
        self.0.get(1..4)?.parse().ok()
    }
}

impl TryFrom<String> for IndustryCode {
    type Error = ValidationErrors;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<IndustryCode> for String {
    fn from(code: IndustryCode) -> Self {
        code.0
    }
}

impl fmt::Display for IndustryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `code` lies within `ancestor` (both canonical): a prefix test.
pub fn industry_within(code: &str, ancestor: &str) -> bool {
    code.starts_with(ancestor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_97_divisions_sit_under_their_sections() {
        let divisions = super::industry_divisions();
        assert_eq!(divisions.len(), 97);
        let software = divisions.iter().find(|d| d.code == "I65").expect("I65");
        assert_eq!(software.name_zh, "软件和信息技术服务业");
        assert_eq!(
            divisions
                .iter()
                .find(|d| d.code == "C39")
                .map(|d| d.section),
            Some("C")
        );
        for division in &divisions {
            assert!(division.code.starts_with(division.section), "{division:?}");
            assert!(
                super::IndustryCode::parse(&division.code).is_ok(),
                "{division:?}"
            );
        }
    }

    use super::*;

    #[test]
    fn region_codes_need_six_digits_and_a_real_province() {
        for good in [
            "110000", "110100", "110108", "220104", "440305", "820000", "650100",
        ] {
            assert_eq!(RegionCode::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(RegionCode::parse(" 110108 ").unwrap().as_str(), "110108");
        for bad in [
            "",
            "11010",
            "1101080",
            "11010a",
            "000000",
            "100000",
            "160000",
            "720000",
            "110001",
            "９１０１０８",
        ] {
            let errors = RegionCode::parse(bad).unwrap_err();
            assert!(errors.has("", Rule::RegionCode), "{bad}");
        }
    }

    #[test]
    fn region_within_strips_trailing_zero_pairs_of_the_ancestor() {
        assert!(region_within("110108", "110100"));
        assert!(region_within("110108", "110000"));
        assert!(region_within("110108", "110108"));
        assert!(region_within("110000", "110000"));
        assert!(!region_within("110000", "110108"));
        assert!(!region_within("220104", "110000"));
        assert!(!region_within("120101", "110000"));
        // 110100's prefix is 1101, so a county of another prefecture in Beijing is outside it.
        assert!(!region_within("110228", "110100"));
    }

    #[test]
    fn built_in_regions_cover_provinces_and_demo_regions() {
        assert!(
            REGIONS.windows(2).all(|pair| pair[0].code < pair[1].code),
            "the table must stay sorted for binary search"
        );
        assert!(REGIONS.iter().all(|region| is_valid_region(region.code)));
        let provinces = REGIONS
            .iter()
            .filter(|region| region.code.ends_with("0000"))
            .count();
        assert_eq!(provinces, 34);
        let beijing_districts = REGIONS
            .iter()
            .filter(|region| region_parent(region.code).as_deref() == Some("110100"))
            .count();
        assert_eq!(beijing_districts, 16);
        let changchun_districts = REGIONS
            .iter()
            .filter(|region| region_parent(region.code).as_deref() == Some("220100"))
            .count();
        assert_eq!(changchun_districts, 4);
        let haidian = known_region("110108").unwrap();
        assert_eq!(
            (haidian.name_zh, haidian.name_en),
            ("海淀区", "Haidian District")
        );
        assert_eq!(known_region("220104").unwrap().name_zh, "朝阳区");
        assert_eq!(known_region("810000").unwrap().name_zh, "香港特别行政区");
        assert_eq!(RegionCode::parse("220100").unwrap().name(), Some("长春市"));
        assert_eq!(known_region("440305"), None);
        assert_eq!(known_regions().len(), 34 + 1 + 16 + 1 + 4);
    }

    #[test]
    fn region_prefix_and_parent_follow_the_zero_pairs() {
        assert_eq!(region_prefix("110000"), "11");
        assert_eq!(region_prefix("110100"), "1101");
        assert_eq!(region_prefix("110108"), "110108");
        assert_eq!(region_parent("110108").as_deref(), Some("110100"));
        assert_eq!(region_parent("110100").as_deref(), Some("110000"));
        assert_eq!(region_parent("110000"), None);
    }

    #[test]
    fn industry_codes_at_every_level_and_bare_digits_get_their_section() {
        for (input, canonical) in [
            ("I", "I"),
            ("I65", "I65"),
            ("I651", "I651"),
            ("I6513", "I6513"),
            ("i6513", "I6513"),
            ("6513", "I6513"),
            ("C13", "C13"),
            ("A01", "A01"),
            ("T97", "T97"),
            ("3911", "C3911"),
        ] {
            assert_eq!(
                IndustryCode::parse(input).unwrap().as_str(),
                canonical,
                "{input}"
            );
        }
        let code = IndustryCode::parse("G5920").unwrap();
        assert_eq!(code.section().name_zh, "交通运输、仓储和邮政业");
        assert_eq!(code.division(), Some(59));
        assert_eq!(code.group(), Some(592));
        let section_only = IndustryCode::parse("K").unwrap();
        assert_eq!(
            (section_only.division(), section_only.group()),
            (None, None)
        );
    }

    #[test]
    fn industry_division_must_belong_to_the_section() {
        for (bad, rule) in [
            ("I13", Rule::IndustrySection),
            ("C65", Rule::IndustrySection),
            ("A06", Rule::IndustrySection),
        ] {
            assert!(IndustryCode::parse(bad).unwrap_err().has("", rule), "{bad}");
        }
        for bad in [
            "", "U", "I6", "I65131", "I6X", "00", "98", "I00", "65-13", "II65",
        ] {
            assert!(
                IndustryCode::parse(bad)
                    .unwrap_err()
                    .has("", Rule::IndustryCode),
                "{bad}"
            );
        }
    }

    #[test]
    fn sections_are_contiguous_and_named() {
        assert_eq!(industry_sections().len(), 20);
        assert_eq!(
            industry_sections()
                .iter()
                .map(|section| section.code)
                .collect::<String>(),
            "ABCDEFGHIJKLMNOPQRST"
        );
        assert!(
            SECTIONS
                .windows(2)
                .all(|pair| pair[0].divisions.end() + 1 == *pair[1].divisions.start())
        );
        assert_eq!(
            industry_section("I").unwrap().name_zh,
            "信息传输、软件和信息技术服务业"
        );
        assert_eq!(
            industry_section("F").unwrap().name_en,
            "Wholesale and retail trade"
        );
        assert_eq!(industry_section("U"), None);
    }

    #[test]
    fn industry_within_is_a_prefix_test() {
        assert!(industry_within("I6513", "I"));
        assert!(industry_within("I6513", "I65"));
        assert!(industry_within("I6513", "I6513"));
        assert!(!industry_within("I65", "I6513"));
        assert!(!industry_within("C1610", "C17"));
    }

    #[test]
    fn codes_round_trip_through_serde_and_reject_bad_values() {
        let region: RegionCode = serde_json::from_str("\"110108\"").unwrap();
        assert_eq!(serde_json::to_string(&region).unwrap(), "\"110108\"");
        assert!(serde_json::from_str::<RegionCode>("\"990000\"").is_err());
        let industry: IndustryCode = serde_json::from_str("\"I6513\"").unwrap();
        assert_eq!(industry.to_string(), "I6513");
        assert!(serde_json::from_str::<IndustryCode>("\"Z99\"").is_err());
    }
}
