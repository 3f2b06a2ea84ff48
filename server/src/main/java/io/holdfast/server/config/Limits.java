package io.holdfast.server.config;

/**
 * Limits on what one caller can ask of the cluster, each enforced with INVALID_ARGUMENT or
 * RESOURCE_EXHAUSTED and a message naming the limit's key. 0 means no limit where noted.
 *
 * @param maxNameLength longest lock name or key (at most the hard limit of 256)
 * @param maxSessionsPerIdentity live sessions one authenticated identity may hold (0: none)
 * @param maxSessions live sessions in the whole cluster (0: none); the leader refuses opens past it,
 *     counting unauthenticated clients too, so that a client opening sessions in a loop cannot
 *     fill every node's heap
 * @param maxLocksPerSession locks one session may hold or wait for at once (0: none)
 * @param maxWaitersPerLock queued acquires one lock may have (0: none)
 * @param maxWatchesPerConnection open watch streams on one client connection (0: none)
 * @param maxRequestBytes the largest gRPC message the client port accepts
 * @param ratePerIdentity requests per second one identity may start (0: no limit)
 * @param rateBurst how many requests an identity may start at once after being idle
 * @param maxKvBytes the key-value store's keys and values together, in bytes (0: no limit); the
 *     whole store lives in every node's heap, so an unbounded one could exhaust all of them at once
 */
public record Limits(int maxNameLength, long maxSessionsPerIdentity, long maxLocksPerSession, long maxWaitersPerLock,
    int maxWatchesPerConnection, int maxRequestBytes, double ratePerIdentity, double rateBurst, long maxKvBytes,
    long maxSessions) {}
