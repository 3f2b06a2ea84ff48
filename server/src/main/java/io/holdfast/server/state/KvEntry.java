package io.holdfast.server.state;

import java.util.Arrays;

/**
 * One key of the fenced key-value store. {@code revision} is the revision of its last write
 * (so revisions increase across keys and leaders); a fenced write remembers the lock and token it
 * was written under, so that a reader can tell which holder wrote it.
 */
public record KvEntry(String key, byte[] value, long revision, long createRevision, String fenceLock,
    long fenceToken, long writtenAtMs) {

  public KvEntry {
    value = value.clone();
  }

  @Override
  public byte[] value() {
    return value.clone();
  }

  public int size() {
    return value.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KvEntry k && key.equals(k.key) && Arrays.equals(value, k.value) && revision == k.revision
        && createRevision == k.createRevision && fenceLock.equals(k.fenceLock) && fenceToken == k.fenceToken
        && writtenAtMs == k.writtenAtMs;
  }

  @Override
  public int hashCode() {
    return key.hashCode() * 31 + Long.hashCode(revision);
  }

  @Override
  public String toString() {
    return "KvEntry[" + key + ", " + value.length + " bytes, revision " + revision + "]";
  }
}
