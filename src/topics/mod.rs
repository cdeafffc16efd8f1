//! Topic names, patterns and the wildcard subscription trie (placeholder).
