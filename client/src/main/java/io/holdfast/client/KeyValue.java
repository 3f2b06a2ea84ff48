package io.holdfast.client;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One key of the fenced store: its value, its revision (the revision of its last write, numbered like fencing tokens), and the
 * lock and token it was written under ({@code fenceLock} empty if the write was not fenced).
 */
public record KeyValue(String key, byte[] value, long revision, long createRevision, String fenceLock,
    long fenceToken, Instant writtenAt) {
  public KeyValue {
    value = value.clone();
  }

  @Override
  public byte[] value() {
    return value.clone();
  }

  public String valueAsString() {
    return new String(value, StandardCharsets.UTF_8);
  }
}
