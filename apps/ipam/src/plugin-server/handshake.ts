import { GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE } from '#app/ipam';

/**
 * The replies of the calls dockerd makes when it first uses the driver: `Plugin.Activate`
 * (moby/moby pkg/plugins/plugins.go), then `IpamDriver.GetCapabilities` and
 * `IpamDriver.GetDefaultAddressSpaces` (moby/moby daemon/libnetwork/ipams/remote/remote.go). They
 * depend on nothing but the contract's names, on purpose: Docker must be able to activate the
 * plugin while etcd is down, and even while the rest of the plugin is still loading.
 * PluginServer alone answers them.
 */
export const HANDSHAKE_REPLIES: ReadonlyMap<string, object> = new Map<string, object>([
  ['/Plugin.Activate', { Implements: ['IpamDriver'] }],
  // Both false: state lives in etcd, so a restarted dockerd needs no replay of its requests.
  ['/IpamDriver.GetCapabilities', { RequiresMACAddress: false, RequiresRequestReplay: false }],
  [
    '/IpamDriver.GetDefaultAddressSpaces',
    {
      LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE,
      GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE,
    },
  ],
]);
