package io.holdfast.server.state;

/** A command as the log delivers it: its index and term, and the leader's wall-clock stamp. */
public record LogEntry(long index, long term, long leaderTimeMs, Command command) {}
