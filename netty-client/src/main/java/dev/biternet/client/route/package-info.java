/**
 * What the kernel will do with a link's traffic: {@link dev.biternet.client.route.IpRoute} asks
 * it ({@code ip -j route get}), {@link dev.biternet.client.route.RoutingDoctor} checks that each
 * {@code --iface}'s traffic to the server leaves through that interface and prints the policy
 * routing commands that fix it when it does not, {@link dev.biternet.client.route.InterfaceList}
 * is {@code --list-ifaces}.
 */
package dev.biternet.client.route;
