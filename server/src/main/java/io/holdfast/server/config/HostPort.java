package io.holdfast.server.config;

/** A {@code host:port} pair ({@code [v6]:port} for IPv6 literals). */
public record HostPort(String host, int port) {

  public static HostPort parse(String key, String text) {
    String s = text == null ? "" : text.trim();
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new ConfigException(key + ": '" + s + "' is not host:port");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new ConfigException(key + ": port in '" + s + "' is not a number");
    }
    if (port < 1 || port > 65535) {
      throw new ConfigException(key + ": port " + port + " is out of range 1-65535");
    }
    return new HostPort(host, port);
  }

  @Override
  public String toString() {
    return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
  }
}
