// Domain XML builder: <os> (disk boot or direct kernel boot) and PC features.
import { buildBoot } from '../../agents/domain';

test('boots from the first disk when there is no kernel', () => {
  const xml = buildBoot({ virtType: 'qemu' });
  expect(xml).toContain("<type arch='x86_64' machine='pc'>hvm</type>");
  expect(xml).toContain("<boot dev='hd'/>");
  expect(xml).toContain('<acpi/>');
});

test('direct kernel boot carries kernel, initrd and an escaped command line', () => {
  const xml = buildBoot({ virtType: 'qemu', boot: { kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0 x="a&b"' } });
  expect(xml).toContain('<kernel>/img/vmlinuz</kernel>');
  expect(xml).toContain('<initrd>/img/initrd.img</initrd>');
  expect(xml).toContain('<cmdline>console=ttyS0 x=&#34;a&#38;b&#34;</cmdline>');
  expect(xml).not.toContain('<boot ');
});

test('the test driver gets no machine type and no features', () => {
  const xml = buildBoot({ virtType: 'test' });
  expect(xml).toContain("<type arch='x86_64'>hvm</type>");
  expect(xml).not.toContain('<features>');
});
