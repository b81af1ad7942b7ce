/**
 * What the kernel will do with a link's traffic: {@link dev.biternet.client.route.IpRoute} asks
 * it ({@code ip -j route get}), {@link dev.biternet.client.route.RoutingDoctor} checks that each
 * {@code --iface}'s traffic to the server leaves through that interface and prints the policy
 * routing commands that fix it when it does not, {@link dev.biternet.client.route.InterfaceList}
 * is {@code --list-ifaces}, {@link dev.biternet.client.route.AutoLinks} is what
 * {@code --iface auto} takes. While a download runs, {@link dev.biternet.client.route.LinkWatch}
 * keeps its links in step with the interfaces ({@link dev.biternet.client.route.InterfaceWatch}:
 * the kernel's events and a poll): rebinding, parking, and joining what {@code auto} takes.
 */
package dev.biternet.client.route;
