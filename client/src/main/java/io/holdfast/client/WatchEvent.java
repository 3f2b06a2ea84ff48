package io.holdfast.client;

/**
 * One change the cluster applied: a lock granted or freed, a key written or deleted. {@code reason}
 * says how a lock was freed (RELEASED, EXPIRED, ADMIN_EXPIRED, REVOKED, TAKEN_OVER).
 */
public record WatchEvent(Kind kind, String lockName, long sessionId, long token, String reason, String key,
    KeyValue kv) {
  public enum Kind { LOCK_ACQUIRED, LOCK_RELEASED, KEY_PUT, KEY_DELETED }
}
