package io.holdfast.server.config;

/** One member of the cluster: its Raft (peer) address and its client API address. */
public record PeerConfig(String id, HostPort peerAddress, HostPort clientAddress) {}
