//! Background compaction (not yet implemented): see the module docs of
//! `storage`.
