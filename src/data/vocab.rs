//! The character vocabulary: the sorted distinct characters of a corpus.

/// Maps characters to token ids and back; ids follow the sorted order of the characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// The sorted distinct characters of `text`.
    pub fn from_text(text: &str) -> Vocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// Number of distinct characters (V).
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True for the vocabulary of an empty text.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Token ids of `text`; every character must be in the vocabulary.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.chars()
            .map(|c| {
                self.chars
                    .binary_search(&c)
                    .unwrap_or_else(|_| panic!("character {c:?} is not in the vocabulary"))
                    as u32
            })
            .collect()
    }

    /// Token ids of `text`, or the first character that is not in the vocabulary.
    pub fn try_encode(&self, text: &str) -> Result<Vec<u32>, char> {
        text.chars()
            .map(|c| {
                self.chars
                    .binary_search(&c)
                    .map(|i| i as u32)
                    .map_err(|_| c)
            })
            .collect()
    }

    /// The character of token `id`.
    pub fn char(&self, id: u32) -> char {
        self.chars[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Corpus;

    #[test]
    fn vocabulary_is_sorted_and_distinct() {
        let v = Vocab::from_text("hello world");
        assert_eq!(v.len(), 8);
        assert_eq!(v.encode(" dehlorw"), (0..8).collect::<Vec<u32>>());
        let ids = v.encode("hello");
        assert_eq!(ids.iter().map(|&i| v.char(i)).collect::<String>(), "hello");
    }

    #[test]
    fn time_machine_has_44_characters() {
        let v = Vocab::from_text(&Corpus::builtin().text);
        assert_eq!(v.len(), 44);
        assert_eq!(v.char(0), ' ');
        assert_eq!(v.char(43), 'z');
    }
}
