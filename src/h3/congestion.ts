// The congestion controllers quiche's binding offers (its build has no bbr2), in a file
// of their own: the command line checks `--cc` without loading the native binding.

export const CONGESTION_CONTROLLERS = ['reno', 'cubic', 'bbr'] as const;
export type CongestionControl = (typeof CONGESTION_CONTROLLERS)[number];
