//! Small pure helpers of the incident plugin: durations and times, tags and tag filters,
//! notification timeslots, summary statistics and room-name slugs. None of them touch the
//! store or the chat; the commands and the automation build on them.

pub mod slug;
pub mod stats;
pub mod tags;
pub mod time;
pub mod timeslot;
