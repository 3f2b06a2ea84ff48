package io.holdfast.server.config;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Binds every address a node will listen on, all at once, and lets them go again, before the node
 * starts anything. A port in use or an address this host does not have then stops the node with the
 * key that named it, instead of a stack trace after its Raft division has already joined elections.
 * Holding all of them together also catches two keys that name one socket in different words
 * ({@code localhost:7400} and {@code 127.0.0.1:7400}).
 */
public final class ListenProbe {

  /** One address the node listens on, and the config key it comes from. */
  public record Listener(String key, HostPort address) {
  }

  private ListenProbe() {
  }

  /** Throws a {@link ConfigException} naming the first key whose address cannot be bound. */
  public static void check(List<Listener> listeners) {
    List<ServerSocket> held = new ArrayList<>();
    List<Listener> bound = new ArrayList<>();
    try {
      for (Listener l : listeners) {
        InetAddress host;
        try {
          host = InetAddress.getByName(l.address().host().isEmpty() ? "0.0.0.0" : l.address().host());
        } catch (UnknownHostException e) {
          throw new ConfigException(l.key() + ": cannot listen on " + l.address() + ": unknown host");
        }
        ServerSocket socket;
        try {
          socket = new ServerSocket();
        } catch (IOException e) {
          throw new ConfigException(l.key() + ": cannot listen on " + l.address() + ": " + e.getMessage());
        }
        held.add(socket);
        try {
          // As the real servers do, so that a port a moment ago closed (TIME_WAIT) is not taken for one in use.
          socket.setReuseAddress(true);
          socket.bind(new InetSocketAddress(host, l.address().port()));
        } catch (IOException e) {
          String clash = bound.stream().filter(b -> b.address().port() == l.address().port())
              .map(b -> " (" + b.key() + " is " + b.address() + ")").findFirst().orElse("");
          throw new ConfigException(l.key() + ": cannot listen on " + l.address() + ": " + e.getMessage() + clash);
        }
        bound.add(l);
      }
    } finally {
      for (ServerSocket s : held) {
        try {
          s.close();
        } catch (IOException e) {
          // nothing was accepted on it; the real bind that follows says what is wrong, if anything
        }
      }
    }
  }
}
