//! The Chinese analyzer: one jieba dictionary (jieba's own plus policy vocabulary), loaded once per
//! process and shared by indexing, query parsing and snippet highlighting so all three cut text
//! the same way.

use std::sync::{Arc, LazyLock};

use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy_jieba::jieba_rs::{Jieba, TokenizeMode};

/// Name under which the analyzer is registered on every index.
pub(crate) const TOKENIZER_NAME: &str = "policy_jieba";

/// Policy vocabulary jieba's general dictionary lacks or splits: without these, 加计扣除 becomes
/// 加计 + 扣除 in one text and something else in another, and a search for the term misses.
const DOMAIN_WORDS: &[&str] = &[
    "专精特新",
    "小巨人",
    "加计扣除",
    "研发费用",
    "研发投入",
    "稳岗",
    "稳岗返还",
    "扩岗",
    "扩岗补助",
    "免申即享",
    "直达快享",
    "高新技术企业",
    "科技型中小企业",
    "小微企业",
    "中小微企业",
    "小型微利企业",
    "个体工商户",
    "应纳税所得额",
    "汇算清缴",
    "贷款贴息",
    "融资担保",
    "担保费",
    "创业担保贷款",
    "一次性创业补贴",
    "社会保险补贴",
    "失业保险",
    "灵活就业",
    "就业困难人员",
    "高校毕业生",
    "退役军人",
    "退役士兵",
    "算力券",
    "消费券",
    "技术改造",
    "数字经济",
    "首台套",
    "瞪羚企业",
    "独角兽企业",
    "征求意见稿",
    "公共租赁住房",
    "养老服务补贴",
    "护理补贴",
    "地区总部",
    "研发中心",
];

/// Function words and question words that carry no topic: a query 小微企业的贷款怎么申请 should
/// not require a policy to contain 的 or 怎么. The English operators are there because people
/// paste search-engine syntax (研发费用 AND 加计扣除) and mean the words around them.
const STOP_WORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "在", "对", "是", "等", "有", "哪些", "什么", "怎么",
    "如何", "怎样", "吗", "呢", "关于", "可以", "能", "and", "or", "not",
];

static JIEBA: LazyLock<Arc<Jieba>> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for word in DOMAIN_WORDS {
        jieba.add_word(word, None, None);
    }
    Arc::new(jieba)
});

/// Loads the dictionary now rather than on the first document or query.
pub(crate) fn load_dictionary() {
    LazyLock::force(&JIEBA);
}

/// The analyzer tantivy uses for every text field.
pub(crate) fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(PolicyTokenizer {
        jieba: Arc::clone(&JIEBA),
    })
}

/// jieba in search mode (each word plus its dictionary sub-words, so 高新技术企业 is also found
/// by 高新) with ordinal positions, lower-cased, without tokens that are only punctuation or
/// spaces.
///
/// Not `tantivy_jieba::JiebaTokenizer`: cloning that clones its whole `Jieba` dictionary, and
/// tantivy clones the analyzer for every segment writer and every snippet; this one shares the
/// dictionary through an `Arc`.
#[derive(Clone)]
struct PolicyTokenizer {
    jieba: Arc<Jieba>,
}

impl Tokenizer for PolicyTokenizer {
    type TokenStream<'a> = PolicyTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PolicyTokenStream {
        PolicyTokenStream {
            tokens: search_tokens(&self.jieba, text),
            next: 0,
        }
    }
}

/// Positions count every jieba token, punctuation included, so a phrase never matches across a
/// comma that was dropped.
fn search_tokens(jieba: &Jieba, text: &str) -> Vec<Token> {
    let base = text.as_ptr() as usize;
    jieba
        .tokenize(text, TokenizeMode::Search, true)
        .into_iter()
        .enumerate()
        .filter(|(_, token)| is_searchable(token.word))
        .map(|(position, token)| {
            let offset_from = token.word.as_ptr() as usize - base;
            Token {
                offset_from,
                offset_to: offset_from + token.word.len(),
                position,
                text: token.word.to_lowercase(),
                position_length: 1,
            }
        })
        .collect()
}

fn is_searchable(word: &str) -> bool {
    word.chars().any(char::is_alphanumeric)
}

pub(crate) struct PolicyTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for PolicyTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// One concept of a query: a word as jieba cuts it in default mode, and its dictionary
/// sub-words (search mode), which find texts where the word was cut differently.
#[derive(Debug, PartialEq)]
pub(crate) struct QueryWord {
    pub(crate) word: String,
    pub(crate) parts: Vec<String>,
}

/// The analysed query: its concepts, and all its tokens with positions for the phrase boost.
#[derive(Debug)]
pub(crate) struct AnalysedQuery {
    pub(crate) words: Vec<QueryWord>,
    pub(crate) phrase: Vec<(usize, String)>,
}

pub(crate) fn analyse_query(text: &str) -> AnalysedQuery {
    let jieba = &*JIEBA;
    let mut words: Vec<QueryWord> = Vec::new();
    for token in jieba.cut(text, true) {
        let word = token.word.to_lowercase();
        if !is_searchable(&word)
            || STOP_WORDS.contains(&word.as_str())
            || words.iter().any(|w| w.word == word)
        {
            continue;
        }
        let mut parts: Vec<String> = search_tokens(jieba, &word)
            .into_iter()
            .map(|t| t.text)
            .filter(|part| *part != word)
            .collect();
        parts.sort();
        parts.dedup();
        words.push(QueryWord { word, parts });
    }
    let phrase = search_tokens(jieba, text)
        .into_iter()
        .map(|t| (t.position, t.text))
        .collect();
    AnalysedQuery { words, phrase }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed_terms(text: &str) -> Vec<String> {
        let mut analyzer = text_analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }

    #[test]
    fn domain_words_stay_whole() {
        let terms =
            indexed_terms("企业开展研发活动实际发生的研发费用加计扣除，专精特新小巨人企业稳岗返还");
        for word in [
            "加计扣除",
            "研发费用",
            "专精特新",
            "小巨人",
            "稳岗返还",
            "稳岗",
        ] {
            assert!(
                terms.iter().any(|t| t == word),
                "{word} missing in {terms:?}"
            );
        }
    }

    #[test]
    fn punctuation_is_dropped_and_latin_lower_cased() {
        let terms = indexed_terms("“AND (title:x”，。");
        assert_eq!(terms, ["and", "title", "x"]);
    }

    #[test]
    fn positions_are_ordinal_with_gaps_for_punctuation() {
        let mut analyzer = text_analyzer();
        let mut stream = analyzer.token_stream("稳岗，返还");
        let mut positions = Vec::new();
        while let Some(token) = stream.next() {
            positions.push((token.text.clone(), token.position));
        }
        assert_eq!(positions, [("稳岗".to_owned(), 0), ("返还".to_owned(), 2)]);
    }

    #[test]
    fn query_words_drop_stop_words_and_keep_sub_words() {
        let query = analyse_query("高新技术企业的认定怎么办");
        let words: Vec<&str> = query.words.iter().map(|w| w.word.as_str()).collect();
        assert!(words.contains(&"高新技术企业"), "{words:?}");
        assert!(
            !words.contains(&"的") && !words.contains(&"怎么"),
            "{words:?}"
        );
        let high_tech = &query.words[0];
        assert!(
            high_tech.parts.contains(&"高新".to_owned()),
            "{high_tech:?}"
        );
        assert!(query.phrase.len() > query.words.len());
    }
}
