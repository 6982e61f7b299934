//! Reading and suggesting a 20-page policy document (about 30,000 characters: the dev passages
//! run together), the speed issue #20 asks for ("well under a second").

use criterion::{Criterion, criterion_group, criterion_main};
use documents::eval::{DEV_SET, long_document, parse_passages};
use documents::{Format, read, suggest};

fn twenty_pages(c: &mut Criterion) {
    let passages = parse_passages(DEV_SET).expect("dev set");
    let text = long_document(&passages, 30_000);
    c.bench_function("read and suggest a 20-page document", |b| {
        b.iter(|| {
            let read = read(Format::Txt, text.as_bytes()).expect("text");
            suggest(&read)
        })
    });
}

criterion_group!(benches, twenty_pages);
criterion_main!(benches);
