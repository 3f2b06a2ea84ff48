package io.holdfast.client;

import java.time.Duration;

/**
 * What a revocation did (or, for a dry run, would do): the former holder and its token, who holds
 * the lock now (0: nobody yet) with which token, and how long it sits out its lock-delay.
 */
public record RevokeOutcome(boolean dryRun, long formerHolderSessionId, long formerToken, long grantedToSessionId,
    long newToken, Duration orphanedFor, LockDescription lock) {}
