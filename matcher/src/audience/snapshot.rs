//! The audience index written out whole and read back, so that an instance can start from its
//! last snapshot instead of reading every profile again. The format is this crate's own: a
//! header (magic, format number, the attribute schema the index was built under), then per shard
//! its ids and each column's bitmaps (roaring's portable encoding) and values, every length
//! prefixed.
//! A CRC-32 of everything before it closes the file. Reading checks as it goes and refuses a
//! snapshot that is cut short, damaged, of another format or built under another schema; it never
//! panics on a damaged file.

use std::io::{self, Read, Write};

use chrono::{Datelike, NaiveDate};
use roaring::RoaringBitmap;

use super::{
    AudienceIndex, Bucket, Column, ColumnData, LEVELS, Postings, RangeColumn, SHARD_BITS, Shard,
};
use crate::field::FieldKind;
use profiles::AttributeSchema;

const MAGIC: &[u8; 8] = b"PPAUDIDX";
/// Raised whenever the layout below changes; an older snapshot is then rebuilt from the store.
const FORMAT: u32 = 2;
/// Bound on any one length read, so a damaged length cannot ask for an absurd allocation
/// before the read fails.
const MAX_LENGTH: u64 = 1 << 34;

/// What a snapshot says of the index it holds, besides the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotStamp {
    /// The day whose facts were indexed (derived facts such as valid certifications are the
    /// ones of that day).
    pub facts_of: NaiveDate,
    /// The caller's place in whatever record of changes the index reflects.
    pub position: i64,
    /// Whatever lets the caller recognise the data and the program the index was built from.
    pub origin: String,
}

/// Why a snapshot was not taken up.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read the snapshot: {0}")]
    Io(#[from] io::Error),
    #[error("not an audience index snapshot of format {FORMAT}")]
    Format,
    #[error("the snapshot was built under another attribute schema")]
    SchemaChanged,
    #[error("the snapshot is damaged: {0}")]
    Damaged(&'static str),
}

impl AudienceIndex {
    /// Writes the whole index to `out`, with `stamp`, which [`AudienceIndex::read_snapshot`]
    /// hands back.
    pub fn write_snapshot(&self, stamp: &SnapshotStamp, out: &mut impl Write) -> io::Result<()> {
        let mut out = Summed::new(out);
        let out = &mut out;
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT.to_le_bytes())?;
        out.write_all(&stamp.position.to_le_bytes())?;
        out.write_all(&stamp.facts_of.num_days_from_ce().to_le_bytes())?;
        write_bytes(out, stamp.origin.as_bytes())?;
        let schema = serde_json::to_vec(&self.schema).map_err(io::Error::other)?;
        write_bytes(out, &schema)?;
        write_len(out, self.shards.len())?;
        for shard in &self.shards {
            write_bitmap(out, &shard.universe)?;
            // In key order, so that equal indexes give equal files.
            let mut keys: Vec<&String> = shard.columns.keys().collect();
            keys.sort();
            write_len(out, keys.len())?;
            for key in keys {
                write_bytes(out, key.as_bytes())?;
                write_column(out, &shard.columns[key])?;
            }
        }
        let sum = out.sum.clone().finalize();
        out.inner.write_all(&sum.to_le_bytes())
    }

    /// Reads an index written by [`AudienceIndex::write_snapshot`], provided it was built under
    /// `schema`, and the stamp written with it.
    pub fn read_snapshot(
        input: &mut impl Read,
        schema: &AttributeSchema,
    ) -> Result<(Self, SnapshotStamp), SnapshotError> {
        let mut input = Summed::new(input);
        let input = &mut input;
        let mut magic = [0; 8];
        input.read_exact(&mut magic)?;
        if &magic != MAGIC || read_u32(input)? != FORMAT {
            return Err(SnapshotError::Format);
        }
        let position = read_u64(input)? as i64;
        let facts_of = NaiveDate::from_num_days_from_ce_opt(read_u32(input)? as i32)
            .ok_or(SnapshotError::Damaged("day"))?;
        let origin =
            String::from_utf8(read_bytes(input)?).map_err(|_| SnapshotError::Damaged("origin"))?;
        let written: AttributeSchema = serde_json::from_slice(&read_bytes(input)?)
            .map_err(|_| SnapshotError::Damaged("schema"))?;
        if &written != schema {
            return Err(SnapshotError::SchemaChanged);
        }
        let mut index = AudienceIndex::new(schema);
        let shards = read_len(input)?;
        if shards > 1 << (32 - SHARD_BITS) {
            return Err(SnapshotError::Damaged("shards"));
        }
        for at in 0..shards {
            let base =
                u32::try_from(at << SHARD_BITS).expect("fewer shards than 2^(32-SHARD_BITS)");
            let shard = read_shard(input, schema, base)?;
            index.universe |= &shard.universe;
            index.shards.push(shard);
        }
        let sum = input.sum.clone().finalize();
        let mut written = [0; 4];
        input.inner.read_exact(&mut written)?;
        if u32::from_le_bytes(written) != sum {
            return Err(SnapshotError::Damaged("checksum"));
        }
        let stamp = SnapshotStamp {
            facts_of,
            position,
            origin,
        };
        Ok((index, stamp))
    }
}

/// A reader or writer that keeps the CRC-32 of the bytes passed through it: a snapshot ends with
/// the sum of everything before, so damage that still parses is caught too.
struct Summed<T> {
    inner: T,
    sum: crc32fast::Hasher,
}

impl<T> Summed<T> {
    fn new(inner: T) -> Self {
        Summed {
            inner,
            sum: crc32fast::Hasher::new(),
        }
    }
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.sum.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Summed<R> {
    fn read(&mut self, bytes: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(bytes)?;
        self.sum.update(&bytes[..read]);
        Ok(read)
    }
}

fn write_column(out: &mut impl Write, column: &Column) -> io::Result<()> {
    match &column.data {
        ColumnData::Bool { yes, no } => {
            out.write_all(&[0])?;
            write_bitmap(out, yes)?;
            write_bitmap(out, no)
        }
        ColumnData::Range(range) => {
            out.write_all(&[1])?;
            write_range(out, range)
        }
        ColumnData::Scalar(postings) => {
            out.write_all(&[2])?;
            write_postings(out, postings)
        }
        ColumnData::Set(postings) => {
            out.write_all(&[3])?;
            write_postings(out, postings)
        }
    }
}

/// The shard whose ids start at `base`; its ids must lie in its range, since they index its
/// per-id vectors from `base`.
fn read_shard(
    input: &mut impl Read,
    schema: &AttributeSchema,
    base: u32,
) -> Result<Shard, SnapshotError> {
    let mut shard = Shard::new(base);
    shard.universe = read_bitmap(input)?;
    let last = u64::from(base) + (1 << SHARD_BITS) - 1;
    let in_range = |bitmap: &RoaringBitmap| {
        (bitmap.min()).is_none_or(|first| first >= base)
            && (bitmap.max()).is_none_or(|id| u64::from(id) <= last)
    };
    if !in_range(&shard.universe) {
        return Err(SnapshotError::Damaged("shard ids"));
    }
    for _ in 0..read_len(input)? {
        let key =
            String::from_utf8(read_bytes(input)?).map_err(|_| SnapshotError::Damaged("key"))?;
        let kind = FieldKind::lookup(schema, &key).ok_or(SnapshotError::Damaged("column"))?;
        let column = read_column(input, kind, base)?;
        if !bitmaps_of(&column).all(in_range) {
            return Err(SnapshotError::Damaged("column ids"));
        }
        if let ColumnData::Range(range) = &column.data
            && !values_cover(range)
        {
            return Err(SnapshotError::Damaged("column values"));
        }
        shard.columns.insert(key, column);
    }
    Ok(shard)
}

/// Whether a number or date column keeps a value slot for every id its intervals hold, and no
/// more slots than its shard has ids: queries and inserts read the slots of those ids.
fn values_cover(range: &RangeColumn) -> bool {
    let slots = range.values.len() as u64;
    let held =
        |bitmap: &RoaringBitmap| (bitmap.max()).is_none_or(|id| u64::from(id - range.base) < slots);
    slots <= 1 << SHARD_BITS
        && held(&range.present)
        && range
            .levels
            .iter()
            .flatten()
            .all(|bucket| held(&bucket.members))
}

/// Every bitmap of ids a column holds.
fn bitmaps_of(column: &Column) -> Box<dyn Iterator<Item = &RoaringBitmap> + '_> {
    match &column.data {
        ColumnData::Bool { yes, no } => Box::new([yes, no].into_iter()),
        ColumnData::Range(range) => Box::new(
            std::iter::once(&range.present)
                .chain(range.levels.iter().flatten().map(|bucket| &bucket.members)),
        ),
        ColumnData::Scalar(postings) | ColumnData::Set(postings) => Box::new(
            std::iter::once(&postings.present)
                .chain(&postings.bitmaps)
                .chain(postings.groups.values()),
        ),
    }
}

/// A column of `kind` as written, for the shard whose ids start at `base`; its layout must be
/// the one the kind has.
fn read_column(input: &mut impl Read, kind: FieldKind, base: u32) -> Result<Column, SnapshotError> {
    let mut column = Column::new(kind, base);
    let mut tag = [0];
    input.read_exact(&mut tag)?;
    match (&mut column.data, tag[0]) {
        (ColumnData::Bool { yes, no }, 0) => {
            *yes = read_bitmap(input)?;
            *no = read_bitmap(input)?;
        }
        (ColumnData::Range(range), 1) => read_range(input, range)?,
        (ColumnData::Scalar(postings), 2) | (ColumnData::Set(postings), 3) => {
            read_postings(input, postings)?
        }
        _ => return Err(SnapshotError::Damaged("column layout")),
    }
    Ok(column)
}

fn write_range(out: &mut impl Write, range: &RangeColumn) -> io::Result<()> {
    write_len(out, range.values.len())?;
    write_words(out, range.values.iter().map(|v| v.to_le_bytes()))?;
    write_bitmap(out, &range.present)?;
    for level in &range.levels {
        write_len(out, level.len())?;
        for bucket in level {
            for bound in [bucket.low, bucket.min, bucket.max] {
                out.write_all(&bound.to_le_bytes())?;
            }
            out.write_all(&bucket.count.to_le_bytes())?;
            out.write_all(&bucket.split_at.to_le_bytes())?;
            write_bitmap(out, &bucket.members)?;
        }
    }
    for limit in range.limits {
        out.write_all(&limit.to_le_bytes())?;
    }
    Ok(())
}

fn read_range(input: &mut impl Read, range: &mut RangeColumn) -> Result<(), SnapshotError> {
    let count = read_len(input)?;
    let bytes = read_exactly(input, count * 8)?;
    range.values = bytes
        .chunks_exact(8)
        .map(|chunk| f64::from_le_bytes(chunk.try_into().expect("eight bytes")))
        .collect();
    range.present = read_bitmap(input)?;
    for level in 0..LEVELS {
        let buckets = read_len(input)?;
        if buckets == 0 {
            // Every level starts with the bucket from −∞ and never loses it.
            return Err(SnapshotError::Damaged("empty level"));
        }
        range.levels[level] = (0..buckets)
            .map(|_| {
                Ok(Bucket {
                    low: read_f64(input)?,
                    min: read_f64(input)?,
                    max: read_f64(input)?,
                    count: read_u64(input)?,
                    split_at: read_u64(input)?,
                    members: read_bitmap(input)?,
                })
            })
            .collect::<Result<_, SnapshotError>>()?;
    }
    for limit in &mut range.limits {
        *limit = read_u64(input)?;
    }
    Ok(())
}

fn write_postings(out: &mut impl Write, postings: &Postings) -> io::Result<()> {
    write_len(out, postings.names.len())?;
    for (name, bitmap) in postings.names.iter().zip(&postings.bitmaps) {
        write_bytes(out, name.as_bytes())?;
        write_bitmap(out, bitmap)?;
    }
    write_bitmap(out, &postings.present)?;
    write_len(out, postings.scalar.len())?;
    write_words(out, postings.scalar.iter().map(|s| s.to_le_bytes()))?;
    let mut groups: Vec<(&String, &RoaringBitmap)> = postings.groups.iter().collect();
    groups.sort_by_key(|(prefix, _)| *prefix);
    write_len(out, groups.len())?;
    for (prefix, bitmap) in groups {
        write_bytes(out, prefix.as_bytes())?;
        write_bitmap(out, bitmap)?;
    }
    Ok(())
}

/// Fills `postings` (made for its kind, so its group levels are set) from the snapshot.
fn read_postings(input: &mut impl Read, postings: &mut Postings) -> Result<(), SnapshotError> {
    let names = read_len(input)?;
    for symbol in 0..names {
        let name =
            String::from_utf8(read_bytes(input)?).map_err(|_| SnapshotError::Damaged("value"))?;
        let bitmap = read_bitmap(input)?;
        let symbol = u32::try_from(symbol).map_err(|_| SnapshotError::Damaged("values"))?;
        if postings.symbols.insert(name.clone(), symbol).is_some() {
            return Err(SnapshotError::Damaged("repeated value"));
        }
        postings.names.push(name);
        postings.bitmaps.push(bitmap);
    }
    postings.present = read_bitmap(input)?;
    let scalars = read_len(input)?;
    let bytes = read_exactly(input, scalars * 4)?;
    postings.scalar = bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("four bytes")))
        .collect();
    // A symbol past the values would make a later removal index out of bounds.
    if postings.scalar.iter().any(|&s| s as usize > names) {
        return Err(SnapshotError::Damaged("value symbol"));
    }
    for _ in 0..read_len(input)? {
        let prefix =
            String::from_utf8(read_bytes(input)?).map_err(|_| SnapshotError::Damaged("group"))?;
        let bitmap = read_bitmap(input)?;
        postings.groups.insert(prefix, bitmap);
    }
    Ok(())
}

/// Writes fixed-size words through a buffer: a column holds a value per profile, and a write
/// call per value would cost more than the values.
fn write_words<const N: usize>(
    out: &mut impl Write,
    words: impl Iterator<Item = [u8; N]>,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(64 * 1024);
    for word in words {
        buffer.extend_from_slice(&word);
        if buffer.len() >= 64 * 1024 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)
}

fn write_len(out: &mut impl Write, len: usize) -> io::Result<()> {
    out.write_all(&(len as u64).to_le_bytes())
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    write_len(out, bytes.len())?;
    out.write_all(bytes)
}

fn write_bitmap(out: &mut impl Write, bitmap: &RoaringBitmap) -> io::Result<()> {
    write_len(out, bitmap.serialized_size())?;
    bitmap.serialize_into(out)
}

fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_f64(input: &mut impl Read) -> io::Result<f64> {
    read_u64(input).map(f64::from_bits)
}

fn read_len(input: &mut impl Read) -> Result<usize, SnapshotError> {
    let len = read_u64(input)?;
    if len > MAX_LENGTH {
        return Err(SnapshotError::Damaged("length"));
    }
    usize::try_from(len).map_err(|_| SnapshotError::Damaged("length"))
}

fn read_bytes(input: &mut impl Read) -> Result<Vec<u8>, SnapshotError> {
    let len = read_len(input)?;
    read_exactly(input, len)
}

/// `len` bytes, read as they come rather than allocated up front: a damaged length then ends
/// at the end of the file instead of asking for more memory than there is.
fn read_exactly(input: &mut impl Read, len: usize) -> Result<Vec<u8>, SnapshotError> {
    let mut bytes = Vec::new();
    input.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(bytes)
}

fn read_bitmap(input: &mut impl Read) -> Result<RoaringBitmap, SnapshotError> {
    let len = read_len(input)?;
    let mut limited = input.take(len as u64);
    let bitmap = RoaringBitmap::deserialize_from(&mut limited)
        .map_err(|_| SnapshotError::Damaged("bitmap"))?;
    if limited.limit() != 0 {
        return Err(SnapshotError::Damaged("bitmap length"));
    }
    Ok(bitmap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, PolicyRule};
    use crate::score::Weights;
    use crate::synth::{self, SplitMix64};
    use crate::testing::day;

    /// An index of `profiles` synthetic profiles, built as an instance builds it, half of
    /// them in the first shard and half in the third (the second left empty).
    fn built(profiles: u32, seed: u64) -> AudienceIndex {
        let mut rng = SplitMix64::new(seed);
        let mut builder = super::super::AudienceBuilder::new(&synth::schema());
        for i in 0..profiles {
            let id = (i % 2) * (2 << SHARD_BITS) + i / 2;
            builder.insert(id, &synth::facts(&mut rng, day("2026-11-21")));
        }
        builder.finish()
    }

    fn snapshot_of(index: &AudienceIndex) -> Vec<u8> {
        let mut bytes = Vec::new();
        index.write_snapshot(&stamp(), &mut bytes).expect("written");
        bytes
    }

    fn read(bytes: &[u8]) -> Result<AudienceIndex, SnapshotError> {
        let (index, read_stamp) = AudienceIndex::read_snapshot(&mut &bytes[..], &synth::schema())?;
        assert_eq!(read_stamp, stamp());
        Ok(index)
    }

    fn stamp() -> SnapshotStamp {
        SnapshotStamp {
            facts_of: day("2026-11-21"),
            position: 42,
            origin: "42@2026-11-21T08:00:00Z".to_owned(),
        }
    }

    #[test]
    fn an_index_read_back_answers_and_writes_alike() {
        let index = built(20_000, 7);
        let bytes = snapshot_of(&index);
        let read = read(&bytes).expect("read");
        assert_eq!(snapshot_of(&read), bytes);
        assert_eq!(read.ids(), index.ids());
        let mut rng = SplitMix64::new(11);
        for as_of in [day("2026-11-21"), day("2027-03-01"), day("2024-01-15")] {
            let rules: Vec<PolicyRule> =
                (0..40).map(|id| synth::rule(&mut rng, id, as_of)).collect();
            let engine = Engine::new(rules, Weights::default(), &synth::schema()).unwrap();
            for policy_id in engine.policy_ids() {
                let applicability = engine.applicability(policy_id).unwrap();
                assert_eq!(
                    read.select(applicability, as_of),
                    index.select(applicability, as_of),
                    "policy {policy_id} on {as_of}"
                );
            }
        }
    }

    #[test]
    fn a_read_index_keeps_taking_updates() {
        let mut index = built(3_000, 3);
        let mut read = read(&snapshot_of(&index)).unwrap();
        let mut rng = SplitMix64::new(5);
        for id in (0..4_000).step_by(3) {
            let facts = synth::facts(&mut rng, day("2026-11-21"));
            index.insert(id, &facts);
            read.insert(id, &facts);
        }
        for id in (0..3_000).step_by(7) {
            assert_eq!(read.remove(id), index.remove(id));
        }
        assert_eq!(snapshot_of(&read), snapshot_of(&index));
    }

    #[test]
    fn a_damaged_or_foreign_snapshot_is_refused_without_a_panic() {
        let bytes = snapshot_of(&built(2_000, 1));
        for cut in [0, 5, 12, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in (16..bytes.len()).step_by(bytes.len() / 50) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x5a;
            assert!(read(&flipped).is_err(), "byte {at} flipped");
        }
        let mut stray = built(2_000, 1);
        stray.shards[0].universe.insert(1 << SHARD_BITS);
        assert!(matches!(
            read(&snapshot_of(&stray)),
            Err(SnapshotError::Damaged("shard ids"))
        ));
        let mut stray = built(2_000, 1);
        let column = stray.shards[2].columns.values_mut().next().unwrap();
        match &mut column.data {
            ColumnData::Bool { yes, .. } => yes.insert(7),
            ColumnData::Range(range) => range.present.insert(7),
            ColumnData::Scalar(postings) | ColumnData::Set(postings) => postings.present.insert(7),
        };
        assert!(matches!(
            read(&snapshot_of(&stray)),
            Err(SnapshotError::Damaged("column ids"))
        ));
        let mut short = built(2_000, 1);
        let range = (short.shards[0].columns.values_mut())
            .find_map(|column| match &mut column.data {
                ColumnData::Range(range) => Some(range),
                _ => None,
            })
            .unwrap();
        range.values.truncate(10);
        assert!(matches!(
            read(&snapshot_of(&short)),
            Err(SnapshotError::Damaged("column values"))
        ));
        let mut other_format = bytes.clone();
        other_format[8] += 1;
        assert!(matches!(read(&other_format), Err(SnapshotError::Format)));
        let error = AudienceIndex::read_snapshot(
            &mut bytes.as_slice(),
            &profiles::AttributeSchema::builtin(),
        );
        assert!(matches!(error, Err(SnapshotError::SchemaChanged)));
    }
}
