resource "aws_vpc" "this" {
  cidr_block = "10.27.0.0/16"
  tags       = { Name = "runners" }
}

resource "aws_subnet" "private" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.27.10.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "runners-private" }
}

output "vpc_id" {
  value = aws_vpc.this.id
}

output "private_subnet_id" {
  value = aws_subnet.private.id
}
