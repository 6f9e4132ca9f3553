pragma solidity ^0.5.0;
contract C {
  address owner;
  mapping(address => uint) balances;
  function withdraw() public {
    // ruleid: vulnsight.solidity.reentrancy-call-before-state-update
    (bool success,) = msg.sender.call.value(balances[msg.sender])("");
    // ok: vulnsight.solidity.unchecked-low-level-call
    require(success);
    balances[msg.sender] = 0;
  }
  function withdrawOk() public {
    uint a = balances[msg.sender];
    balances[msg.sender] = 0;
    // ok: vulnsight.solidity.reentrancy-call-before-state-update
    msg.sender.transfer(a);
  }
  function f(address o) public {
    // ruleid: vulnsight.solidity.tx-origin-auth
    require(tx.origin == o);
  }
  function g(address payable a) public {
    // ruleid: vulnsight.solidity.unchecked-low-level-call
    a.send(1 ether);
  }
  // ruleid: vulnsight.solidity.unprotected-owner-change
  function setOwner(address o) public {
    owner = o;
  }
  function setOwner2(address o) public {
    require(msg.sender == owner);
    owner = o;
  }
  function kill() public {
    // ruleid: vulnsight.solidity.unprotected-selfdestruct
    selfdestruct(msg.sender);
  }
  function play(uint startTime) public {
    // ruleid: vulnsight.solidity.timestamp-dependence
    if (startTime + (5 * 1 days) == block.timestamp) { owner = msg.sender; }
  }
  function d(address t, bytes memory data) public {
    // ruleid: vulnsight.solidity.delegatecall-user-address, vulnsight.solidity.unchecked-low-level-call
    t.delegatecall(data);
  }
  function clock() public view returns (uint32) {
    // ok: vulnsight.solidity.weak-randomness
    return uint32(block.timestamp % 2**32);
  }
  function roll() public view returns (uint256) {
    // ruleid: vulnsight.solidity.weak-randomness
    return block.timestamp % 6;
  }
}
