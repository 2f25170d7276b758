// kassa hosted checkout: wallet connection (EIP-1193 + ethers.js 6), copy buttons, the
// countdown and live status (Server-Sent Events). The page works without this script.
"use strict";

(function () {
  const root = document.getElementById("checkout");
  if (!root || !root.dataset.session) return;
  const data = root.dataset;
  const $ = (id) => document.getElementById(id);
  const ERC20 = ["function transfer(address to, uint256 amount) returns (bool)"];
  let redirecting = false;

  function say(text) {
    const message = $("wallet-message");
    if (message) message.textContent = text;
  }

  // -- copy buttons ----------------------------------------------------------------------
  document.querySelectorAll("button.copy").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = $(button.dataset.copy);
      if (!target) return;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        button.textContent = "Copied";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(target);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });

  // -- countdown -------------------------------------------------------------------------
  const countdown = $("countdown");
  const expires = Date.parse(data.expires);
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function tick() {
    if (!countdown) return;
    let left = Math.floor((expires - Date.now()) / 1000);
    if (left <= 0) { countdown.textContent = "0 seconds"; return; }
    const days = Math.floor(left / 86400); left %= 86400;
    const hours = Math.floor(left / 3600); left %= 3600;
    const minutes = Math.floor(left / 60); const seconds = left % 60;
    countdown.textContent = days ? plural(days, "day") + " " + plural(hours, "hour")
      : hours ? plural(hours, "hour") + " " + plural(minutes, "minute")
      : plural(minutes, "minute") + " " + plural(seconds, "second");
  }
  tick();
  setInterval(tick, 1000);

  // -- live status -----------------------------------------------------------------------
  function show(progress) {
    const status = $("status");
    const word = status && status.querySelector(".state-word");
    if (status) {
      status.dataset.status = progress.status;
      status.className = "state state-" + progress.status;
    }
    if (word) word.textContent = progress.status.charAt(0).toUpperCase() + progress.status.slice(1) + ":";
    if ($("status-text")) $("status-text").textContent = progress.text;
    if (progress.finished) {
      const wallet = $("wallet");
      if (wallet) wallet.hidden = true;
    }
    if (progress.redirect && !redirecting) {
      redirecting = true;
      setTimeout(() => { window.location.assign(progress.redirect); }, 1200);
    }
  }

  function listen() {
    if (!window.EventSource) return;
    const source = new EventSource(data.events);
    source.addEventListener("status", (event) => {
      const progress = JSON.parse(event.data);
      show(progress);
      if (progress.finished) source.close();
    });
  }
  if (data.status === "pending" || data.status === "confirming") listen();

  // -- wallet ----------------------------------------------------------------------------
  const wallet = $("wallet");
  const connect = $("connect");
  const pay = $("pay");
  if (!wallet || !connect || !pay || !data.token) return;
  if (data.status !== "pending") return;
  wallet.hidden = false;
  const ethereum = window.ethereum;
  if (!ethereum || !window.ethers) {
    connect.disabled = true;
    say("No browser wallet found: scan the QR code with your wallet app, or send the exact amount to the address above.");
    return;
  }
  const chainHex = "0x" + BigInt(data.chainId).toString(16);
  let account = null;

  function reason(error) {
    if (error && error.code === 4001) return "You rejected the request in your wallet.";
    if (error && error.code === "ACTION_REJECTED") return "You rejected the transaction in your wallet.";
    return (error && (error.shortMessage || error.message)) || String(error);
  }

  async function switchChain() {
    const current = await ethereum.request({ method: "eth_chainId" });
    if (BigInt(current) === BigInt(data.chainId)) return;
    try {
      await ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainHex }] });
    } catch (error) {
      if (error && error.code === 4902) {
        throw new Error("Your wallet does not know chain " + data.chainId + ": add it in the wallet, then try again.");
      }
      throw error;
    }
  }

  connect.addEventListener("click", async () => {
    connect.disabled = true;
    say("Connecting to your wallet…");
    try {
      const accounts = await ethereum.request({ method: "eth_requestAccounts" });
      account = accounts && accounts[0];
      if (!account) throw new Error("The wallet gave no account.");
      connect.textContent = "Connected: " + account.slice(0, 6) + "…" + account.slice(-4);
      pay.hidden = false;
      pay.focus();
      say("Connected. Check the amount, then pay.");
    } catch (error) {
      connect.disabled = false;
      say("Could not connect: " + reason(error));
    }
  });

  pay.addEventListener("click", async () => {
    pay.disabled = true;
    try {
      say("Switching your wallet to the right network…");
      await switchChain();
      // A provider made after the switch: ethers refuses one whose network changed under it.
      const provider = new window.ethers.BrowserProvider(ethereum);
      const network = await provider.getNetwork();
      if (network.chainId !== BigInt(data.chainId)) throw new Error("The wallet is on another network.");
      const signer = await provider.getSigner(account);
      const token = new window.ethers.Contract(data.token, ERC20, signer);
      say("Confirm the payment in your wallet…");
      const tx = await token.transfer(data.to, BigInt(data.units));
      say("Payment sent (" + tx.hash.slice(0, 10) + "…). Waiting for the network…");
      const response = await fetch(data.report, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ tx_hash: tx.hash }),
        credentials: "omit",
      });
      if (response.ok) show(await response.json());
      pay.hidden = true;
    } catch (error) {
      pay.disabled = false;
      say("Payment not sent: " + reason(error));
    }
  });
})();
