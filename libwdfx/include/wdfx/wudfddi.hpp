// wdfx/wudfddi.hpp: the UMDF 1 IWDFInterrupt interface (wudfddi.h), its interrupt-lock methods.
//
// A UMDF 1 driver being ported keeps its lock code:
//   wdfx::wudf::IWDFInterrupt* pInterrupt = ...;     // from the wdfx interrupt it created
//   pInterrupt->AcquireInterruptLock();  ...  pInterrupt->ReleaseInterruptLock();
//   if (pInterrupt->TryToAcquireInterruptLock()) { ...; pInterrupt->ReleaseInterruptLock(); }
// The lock is the framework's interrupt lock: the one held around the ISR, OnInterruptEnable
// (EvtInterruptEnable) and OnInterruptDisable (wdf-semantics §16, §10). COM-style names; no
// IUnknown (a value object, like every wdfx handle).
//
// The rules of the reference page (IWDFInterrupt::AcquireInterruptLock) are checked, and a broken
// one is a verifier report, never a deadlock (WDFX_VERIFIER=report: logged, the call returns
// without the lock; otherwise the process aborts, as the framework "introduces a breakpoint"):
//  - not before the framework called OnInterruptEnable, nor after it called OnInterruptDisable
//    (AcquireInterruptLock and TryToAcquireInterruptLock);
//  - no recursive AcquireInterruptLock on the same interrupt before ReleaseInterruptLock.
// TryToAcquireInterruptLock never waits: FALSE when any thread holds the lock, the caller
// included (that is what makes it safe in arbitrary threads such as an OnRead callback).
// UMDF 1 interrupts are passive-level (the host runs at PASSIVE_LEVEL); on a DIRQL wdfx interrupt
// TryToAcquireInterruptLock returns FALSE, as WdfInterruptTryToAcquireLock does.
//
// Threads: any PASSIVE thread; the same rules as the interrupt's own lock methods.
#pragma once

#include <wdfx/interrupt.hpp>

namespace wdfx::wudf {

using BOOL = int;

class IWDFInterrupt {
  public:
    IWDFInterrupt() = default;
    /// The interface of a wdfx interrupt (IWDFDevice::CreateInterrupt's output on Windows).
    explicit IWDFInterrupt(interrupt i) noexcept : irq_(i) {}

    /// Take the interrupt lock (waits). See the rules above.
    void AcquireInterruptLock();
    /// Release it. After an AcquireInterruptLock the verifier refused, a no-op.
    void ReleaseInterruptLock();
    /// Take the interrupt lock if it is free: TRUE (1) if taken, FALSE (0) otherwise; never waits.
    BOOL TryToAcquireInterruptLock();

    /// The wdfx interrupt behind the interface.
    interrupt GetInterrupt() const noexcept { return irq_; }

  private:
    interrupt irq_;
};

}  // namespace wdfx::wudf
